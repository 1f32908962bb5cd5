"""The solver library: reading inputs, batching, halting, verification and the JSON record.

The models are the published-format reference checkpoints: untrained, so their answers are wrong, which
is what shows that verification is honest.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE, reference_config

import trmsolve
from trmsolve.errors import PuzzleParseError, TrmsolveError
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.options import SolveOptions
from trmsolve.solver import Step, Summary, identifier_map, puzzle_identifier, read_inputs, solve

EXAMPLES = Path(__file__).parent.parent / "examples"
CLASSIC = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"


@cache
def reference_model(name: str):
    return trmsolve.load_model(REFERENCE / f"{name}.pt", config=reference_config(name))


def sudoku_puzzles(n: int = 3) -> list[Puzzle]:
    return [p for p in read_inputs([EXAMPLES / "sudoku" / "collection.txt"], "sudoku")][:n]


# ------------------------------------------------------------------------------------------------ inputs


def test_directory_is_read_recursively_by_extension_in_order(tmp_path: Path) -> None:
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.txt").write_text(CLASSIC + "\n")
    (tmp_path / "b" / "deeper" / "c.sdk").write_text(CLASSIC + "\n" + CLASSIC + "\n")
    (tmp_path / "b" / "notes.md").write_text("not a puzzle\n")
    (tmp_path / ".hidden" / "x.txt").write_text("junk\n")
    sources = [item.source for item in read_inputs([tmp_path], "sudoku")]
    assert sources == [f"{tmp_path}/a.txt:1", f"{tmp_path}/b/deeper/c.sdk:1", f"{tmp_path}/b/deeper/c.sdk:2"]


def test_bad_entries_and_files_are_yielded_in_place_and_reading_goes_on(tmp_path: Path) -> None:
    (tmp_path / "latin1.txt").write_bytes(b"caf\xe9\n")
    (tmp_path / "empty").mkdir()
    items = list(
        read_inputs(
            [tmp_path / "missing.txt", EXAMPLES / "bad" / "sudoku.txt", tmp_path / "latin1.txt", tmp_path / "empty"],
            "sudoku",
        )
    )
    kinds = ["error" if isinstance(i, PuzzleParseError) else "puzzle" for i in items]
    assert kinds == ["error", "puzzle", "error", "puzzle", "error", "error"]
    messages = [str(i) for i in items if isinstance(i, PuzzleParseError)]
    assert messages[0].endswith("missing.txt: no such file or directory")
    assert messages[1].endswith("sudoku.txt:3: expected 81 cells, found 80")
    assert "not a UTF-8 text file" in messages[2]
    assert "no .txt/.sdk/.csv/.sudoku files" in messages[3]
    assert all("\n" not in m for m in messages)


def test_stdin_is_read_for_a_dash() -> None:
    items = list(read_inputs(["-"], "sudoku", stdin=io.StringIO(f"# one\n{CLASSIC}\n")))
    assert [i.source for i in items] == ["<stdin>:2"]


def test_arc_directory_reads_each_task_once_with_its_solutions() -> None:
    puzzles = list(read_inputs([EXAMPLES / "arc"], "arc"))
    assert all(isinstance(p, Puzzle) for p in puzzles)
    sources = [p.source for p in puzzles]
    assert len(sources) == len(set(sources))
    assert not any("tiny_solutions" in s for s in sources)
    combined = [p for p in puzzles if "tiny_challenges" in p.source]
    assert combined and all(p.answer is not None for p in combined)  # scored from the solutions beside it


# ------------------------------------------------------------------------------------------------- solve


def test_results_come_in_order_verified_and_batching_does_not_change_them() -> None:
    model = reference_model("trm_att_rope")
    puzzles = sudoku_puzzles(3)
    one = list(solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=3, batch_size=1, verify=False)))
    together = list(solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=3, batch_size=3, verify=False)))
    assert [r.puzzle.source for r in one] == [p.source for p in puzzles]
    assert [r.text for r in one] == [r.text for r in together]
    assert [r.steps for r in one] == [r.steps for r in together]
    for result in one:
        assert not result.valid and not result.ok  # an untrained model never solves these
        assert result.verdict.problems
        assert len(result.text) == 81 and len(result.input_text) == 81
        assert 0.0 <= result.confidence <= 1.0 and 0.0 <= result.q_halt_prob <= 1.0
        assert result.elapsed_ms > 0


def test_halting_rules_and_steps() -> None:
    model = reference_model("trm_att_rope")
    puzzles = sudoku_puzzles(2)
    full = list(solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=4, halt=False, verify=False)))
    assert [r.steps for r in full] == [4, 4]
    # Halting early gives the answer that running every step had at that step.
    early = list(
        solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=4, halt_threshold=0.0, verify=False))
    )
    assert [(r.steps, r.halted) for r in early] == [(1, True), (1, True)]
    first = list(solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=1, halt=False, verify=False)))
    assert [r.text for r in early] == [r.text for r in first]
    never = list(
        solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=3, halt_threshold=1.0, verify=False))
    )
    assert [(r.steps, r.halted) for r in never] == [(3, False), (3, False)]
    default = list(
        solve(puzzles, model, kind="sudoku", options=SolveOptions(verify=False))
    )  # the checkpoint's default steps and rule
    assert all(r.max_steps == model.info.default_steps for r in default)
    assert all(r.halted == (r.q_halt_prob > 0.5) for r in default)


def test_a_verified_view_runs_the_models_own_budget_else_twice_the_trained_steps_and_at_least_32(tmp_path) -> None:
    """The bundled maze model trained with 32 steps draws hard 30x30 paths past its 64th (its config says 128 a
    view: weights/maze/README.md); a model without a budget of its own runs twice its trained
    steps, at least 32 (a 16-step model keeps 32 a view: docs/verified.md). The budget survives a save."""
    maze, sudoku = trmsolve.load_model("maze"), trmsolve.load_model("sudoku")
    assert (maze.info.default_steps, sudoku.info.default_steps) == (32, 16)
    assert (maze.info.view_steps, sudoku.info.view_steps) == (128, None)
    options = SolveOptions()
    assert options.steps_for(maze, get_kind("maze")) == 128
    assert options.steps_for(sudoku, get_kind("sudoku")) == 32
    assert SolveOptions(verify=False).steps_for(maze, get_kind("maze")) == 32  # the published rule
    assert SolveOptions(max_steps=5).steps_for(maze, get_kind("maze")) == 5
    maze.info.view_steps = None  # the rule alone: twice the 32 it trained with
    assert options.steps_for(maze, get_kind("maze")) == 64
    maze.info.view_steps = 96
    assert trmsolve.load_model(trmsolve.save_model(maze, tmp_path / "maze")).info.view_steps == 96


def test_on_step_reports_every_step_of_every_puzzle() -> None:
    model = reference_model("trm_att_rope")
    steps: list[Step] = []
    results = list(
        solve(
            sudoku_puzzles(2),
            model,
            kind="sudoku",
            on_step=steps.append,
            options=SolveOptions(max_steps=3, halt=False, batch_size=2, verify=False),
        )
    )
    assert [(s.puzzle.source, s.step) for s in steps] == [
        (p, n) for n in (1, 2, 3) for p in (results[0].puzzle.source, results[1].puzzle.source)
    ]
    assert all(s.changed is None for s in steps[:2])
    assert all(s.changed is not None and s.changed.shape == (9, 9) for s in steps[2:])
    assert [s.last for s in steps] == [False] * 4 + [True] * 2
    last = {s.puzzle.source: s for s in steps if s.last}
    for result in results:
        assert np.array_equal(last[result.puzzle.source].answer, result.answer)
        assert last[result.puzzle.source].confidence.shape == (9, 9)


def test_json_record_has_the_documented_fields() -> None:
    model = reference_model("trm_att_rope")
    csv_path = EXAMPLES / "sudoku" / "puzzles.csv"
    _, question, answer, _ = csv_path.read_text().splitlines()[1].split(",")
    puzzles = list(read_inputs([csv_path], "sudoku"))[:1]
    (result,) = solve(puzzles, model, kind="sudoku", model_name="ref", options=SolveOptions(max_steps=2, verify=False))
    record = json.loads(result.to_json())
    assert "\n" not in result.to_json()
    assert record["source"] == f"{csv_path}:2"
    assert record["kind"] == "sudoku" and record["model"] == "ref"
    assert record["input"] == question and record["expected"] == answer
    assert record["valid"] is False and record["correct"] is False  # the CSV gave the answer
    assert isinstance(record["problems"], list) and record["problems"]
    assert isinstance(record["details"]["conflicts"], int)
    assert record["steps"] <= record["max_steps"] == 2
    for key in ("halted", "q_halt_prob", "confidence", "elapsed_ms", "output"):
        assert key in record


def test_a_model_for_another_kind_is_refused() -> None:
    with pytest.raises(TrmsolveError, match="solves sudoku puzzles, not maze"):
        list(solve([], reference_model("trm_att_rope"), kind="maze", options=SolveOptions(verify=False)))


def test_arc_runs_with_the_tasks_identifier_when_the_model_has_one() -> None:
    model = reference_model("trm_att_learned_arc")
    (puzzle,) = [p for p in read_inputs([EXAMPLES / "arc" / "flip_horizontal.json"], "arc")]
    task = puzzle.meta["task_id"]
    assert puzzle_identifier(puzzle, identifier_map(model)) == 0  # no identifiers: blank
    blank = next(solve([puzzle], model, kind="arc", options=SolveOptions(max_steps=1, verify=False)))
    model.identifiers = ["<blank>", "other", task]
    try:
        assert puzzle_identifier(puzzle, identifier_map(model)) == 2
        own = next(solve([puzzle], model, kind="arc", options=SolveOptions(max_steps=1, verify=False)))
    finally:
        model.identifiers = None
    assert own.q_halt_prob != blank.q_halt_prob  # a different puzzle embedding went in
    assert own.correct is False and own.verdict.details["shape"]


def test_maze_result_is_cropped_to_the_maze_and_checked() -> None:
    model = reference_model("hrm_rope")
    (puzzle,) = list(read_inputs([EXAMPLES / "maze" / "small.txt"], "maze"))
    (result,) = solve([puzzle], model, kind="maze", options=SolveOptions(max_steps=1, verify=False))
    assert result.answer.shape == puzzle.grid.shape == (11, 15)
    assert not result.valid and result.verdict.problems
    assert result.text.count("\n") == 10


def test_summary_counts() -> None:
    model = reference_model("trm_att_rope")
    summary = Summary()
    puzzles = list(read_inputs([EXAMPLES / "sudoku" / "puzzles.csv", EXAMPLES / "sudoku" / "grids.txt"], "sudoku"))
    for result in solve(puzzles, model, kind="sudoku", options=SolveOptions(max_steps=2, halt=False, verify=False)):
        summary.add(result)
    assert (summary.puzzles, summary.valid, summary.known, summary.correct, summary.failed) == (8, 0, 5, 0, 8)
    assert summary.mean_steps == 2.0
    assert summary.to_dict()["correct"] == 0
