"""The ARC puzzle kind: reading task files, tokens, verdicts and rendering."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.kinds.arc_grids import grid_to_tokens

EXAMPLES = Path(__file__).parents[1] / "examples" / "arc"
ARC = get_kind("arc")

TASK = {
    "train": [
        {"input": [[1, 0]], "output": [[0, 1]]},
        {"input": [[2, 3], [0, 0]], "output": [[3, 2], [0, 0]]},
    ],
    "test": [{"input": [[4, 0, 0]], "output": [[0, 0, 4]]}, {"input": [[5], [6]]}],
}


def _parse(path: Path) -> list[Puzzle | PuzzleParseError]:
    return list(ARC.parse(path.read_text(), str(path)))


def _write(path: Path, value: object) -> Path:
    path.write_text(json.dumps(value))
    return path


def test_kind_shape() -> None:
    assert (ARC.name, ARC.extensions, ARC.seq_len, ARC.vocab_size) == ("arc", (".json",), 900, 12)


def test_single_task(tmp_path: Path) -> None:
    path = _write(tmp_path / "mirror.json", TASK)
    first, second = _parse(path)
    assert isinstance(first, Puzzle) and isinstance(second, Puzzle)
    assert (first.kind, first.source, second.source) == ("arc", f"{path}#mirror/0", f"{path}#mirror/1")
    np.testing.assert_array_equal(first.grid, [[4, 0, 0]])
    np.testing.assert_array_equal(first.answer, [[0, 0, 4]])
    assert second.answer is None
    assert (first.meta["task_id"], first.meta["test_index"], second.meta["test_index"]) == ("mirror", 0, 1)
    inp, out = first.meta["train"][1]
    np.testing.assert_array_equal(inp, [[2, 3], [0, 0]])
    np.testing.assert_array_equal(out, [[3, 2], [0, 0]])


def test_combined_file_takes_answers_from_its_solutions(tmp_path: Path) -> None:
    other = {"train": [], "test": [{"input": [[7]]}]}
    path = _write(tmp_path / "mine_challenges.json", {"a1": TASK, "b2": other})
    solutions = _write(tmp_path / "mine_solutions.json", {"a1": [[[9, 9, 9]], [[6], [5]]]})
    a0, a1, b0 = _parse(path)
    assert [p.source for p in (a0, a1, b0)] == [f"{path}#a1/0", f"{path}#a1/1", f"{path}#b2/0"]
    np.testing.assert_array_equal(a0.answer, [[9, 9, 9]])  # the solutions file wins over the inline output
    np.testing.assert_array_equal(a1.answer, [[6], [5]])
    assert b0.answer is None and b0.meta["task_id"] == "b2"
    assert _parse(solutions) == []  # read through its challenges file
    solutions.rename(tmp_path / "alone_solutions.json")
    with pytest.raises(PuzzleParseError, match="solutions file"):
        _parse(tmp_path / "alone_solutions.json")


def test_combined_file_without_solutions(tmp_path: Path) -> None:
    (puzzle,) = [p for p in _parse(_write(tmp_path / "x_challenges.json", {"a1": TASK})) if p.answer is not None]
    np.testing.assert_array_equal(puzzle.answer, [[0, 0, 4]])


def test_examples_parse() -> None:
    puzzles = [p for path in sorted(EXAMPLES.glob("*.json")) for p in _parse(path)]
    assert all(isinstance(p, Puzzle) for p in puzzles)
    assert {p.meta["task_id"]: p.answer is not None for p in puzzles} == {
        "flip_horizontal": True,
        "recolour": False,
        "flipud01": True,
        "frame001": True,
        "b1948b0a": True,  # tasks the bundled arc-demo solves (our grids of the rules it was trained on)
        "d511f180": True,
        "0d3d703e": True,
    }
    for puzzle in puzzles:  # the inline and separate answers really solve the examples
        if puzzle.meta["task_id"] == "flip_horizontal":
            np.testing.assert_array_equal(puzzle.answer, puzzle.grid[:, ::-1])
        if puzzle.meta["task_id"] == "b1948b0a":
            np.testing.assert_array_equal(puzzle.answer, np.where(puzzle.grid == 6, 2, puzzle.grid))


def test_unreadable_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"train": [\n  [1, 2,\n')
    with pytest.raises(PuzzleParseError, match=rf"^{path}:\d+: not valid JSON"):
        _parse(path)
    with pytest.raises(PuzzleParseError, match="expected a JSON object"):
        _parse(_write(tmp_path / "list.json", [[1]]))


@pytest.mark.parametrize(
    ("bad_input", "message"),
    [
        ([[1, 2], [3]], "rows differ"),
        ([[10]], "integers 0..9"),
        ([[0] * 31], "1..30"),
        ("12", "list of rows"),
    ],
)
def test_bad_test_entry_is_one_line_naming_file_and_task(tmp_path: Path, bad_input: object, message: str) -> None:
    task = {"train": TASK["train"], "test": [{"input": bad_input}, {"input": [[1]]}]}
    path = _write(tmp_path / "c_challenges.json", {"t9": task})
    error, puzzle = _parse(path)
    assert isinstance(error, PuzzleParseError) and isinstance(puzzle, Puzzle)
    assert str(error).startswith(f"{path}: task t9, test 0: ") and message in str(error)
    assert "\n" not in str(error)


def test_bad_task_is_skipped_with_an_error(tmp_path: Path) -> None:
    bad_train = {"train": [{"input": [[1]]}], "test": [{"input": [[1]]}]}
    path = _write(tmp_path / "c_challenges.json", {"bad": bad_train, "nolist": {"test": {}}, "good": TASK})
    results = _parse(path)
    errors = [str(r) for r in results if isinstance(r, PuzzleParseError)]
    assert errors == [
        f"{path}: task bad: train example 0 needs an 'input' and an 'output'",
        f"{path}: task nolist: not an ARC task: expected 'train' and a non-empty 'test' list",
    ]
    assert [r.meta["task_id"] for r in results if isinstance(r, Puzzle)] == ["good", "good"]


def test_bad_solution_names_the_solutions_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "c_challenges.json", {"t1": TASK})
    _write(tmp_path / "c_solutions.json", {"t1": [[[1, 11]]]})
    error = _parse(path)[0]
    assert isinstance(error, PuzzleParseError)
    assert "task t1, test 0: solution in" in str(error) and "c_solutions.json" in str(error)


def test_encode_decode_roundtrip(tmp_path: Path) -> None:
    for puzzle in _parse(_write(tmp_path / "t.json", TASK)):
        tokens = ARC.encode(puzzle)
        assert tokens.dtype == np.int64 and tokens.shape == (900,)
        np.testing.assert_array_equal(tokens, grid_to_tokens(puzzle.grid))
        np.testing.assert_array_equal(ARC.decode(tokens, puzzle), puzzle.grid)


def test_verify(tmp_path: Path) -> None:
    known, unknown = _parse(_write(tmp_path / "t.json", TASK))
    right = ARC.verify(known, np.array([[0, 0, 4]]))
    assert (right.valid, right.correct, right.details) == (True, True, {"shape": [1, 3], "wrong_cells": 0})
    wrong = ARC.verify(known, np.array([[0, 4, 4]]))
    assert (wrong.valid, wrong.correct, wrong.details["wrong_cells"]) == (True, False, 1)
    assert ARC.verify(unknown, np.array([[5], [6]])).correct is None
    empty = ARC.verify(known, ARC.decode(np.zeros(900, dtype=np.int64), known))
    assert (empty.valid, empty.correct, empty.problems) == (False, False, ["empty grid"])
    assert ARC.verify(unknown, np.array([[12]])).problems == ["colours must be 0..9"]


def _plain(renderable: object) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    console.print(renderable)
    return console.file.getvalue()


def test_render_reads_as_digits_without_colour(tmp_path: Path) -> None:
    puzzle = _parse(_write(tmp_path / "t.json", TASK))[0]
    assert "4 0 0" in _plain(ARC.render(puzzle))
    answer = np.array([[0, 0, 4]])
    text = _plain(ARC.render(puzzle, answer, changed=np.array([[False, True, False]]), confidence=np.ones((1, 3))))
    assert "answer 1x3" in text and "0 0*4" in text
    assert "0 0 4" in _plain(ARC.render(puzzle, answer, changed=np.ones((2, 2), dtype=bool)))  # stale shape
    assert "(empty grid)" in _plain(ARC.render(puzzle, np.zeros((0, 0), dtype=np.uint8)))


def test_render_colours_and_dims(tmp_path: Path) -> None:
    puzzle = _parse(_write(tmp_path / "t.json", TASK))[0]
    console = Console(file=io.StringIO(), width=120, color_system="truecolor")
    console.print(ARC.render(puzzle, np.array([[1, 1, 1]]), confidence=np.array([[1.0, 1.0, 0.0]])))
    out = console.file.getvalue()
    assert "48;2;255;220;0m" in out  # yellow 4 in the input
    assert "48;2;0;116;217m" in out  # blue 1, sure
    assert "48;2;0;35;65m" in out  # blue 1 at confidence 0, darkened


def test_to_text() -> None:
    assert ARC.to_text(np.array([[0, 1, 2], [9, 8, 7]], dtype=np.uint8)) == "012\n987"
