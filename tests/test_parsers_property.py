"""Property tests: any text or bytes given to a parser gives puzzles or PuzzleParseErrors naming the file
(and line), never another exception; the CLI turns any input file into results or one-line errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trmsolve.errors import PuzzleParseError
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.solver import read_inputs

ALPHABETS = {
    "sudoku": "0123456789.?xX_*-| +=,\n\r\t#/abcquestion",
    "maze": "# SGo.\n\r\t ,x",
    "arc": '{}[]":,0123456789 \ntrainputoes',
}


def check(kind: str, text: str) -> None:
    try:
        items = list(get_kind(kind).parse(text, "f.txt"))
    except PuzzleParseError as whole_file:  # allowed: the whole file is unreadable (ARC's JSON)
        assert str(whole_file).startswith("f.txt")
        return
    for item in items:
        if isinstance(item, PuzzleParseError):
            assert str(item).startswith("f.txt")
            assert item.line is None or item.line >= 1
        else:
            assert isinstance(item, Puzzle) and isinstance(item.grid, np.ndarray)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(ALPHABETS)), data=st.data())
def test_any_text_parses_or_fails_with_a_named_error(kind: str, data: st.DataObject) -> None:
    text = data.draw(st.text(alphabet=ALPHABETS[kind], max_size=400) | st.text(max_size=200))
    check(kind, text)


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(sorted(ALPHABETS)), blob=st.binary(max_size=300))
def test_any_bytes_in_a_file_are_read_or_named(tmp_path_factory, kind: str, blob: bytes) -> None:
    path = tmp_path_factory.mktemp("p") / "input.txt"
    path.write_bytes(blob)
    for item in read_inputs([path], kind):
        assert isinstance(item, Puzzle) or str(item).startswith(str(path))


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(st.text(alphabet="0123456789.?x_*- ", min_size=9, max_size=9), min_size=9, max_size=9))
def test_nine_line_grids_of_accepted_blanks_read_as_one_puzzle_or_its_clash(lines: list[str]) -> None:
    items = list(get_kind("sudoku").parse("\n".join(lines) + "\n", "g.txt"))
    assert len(items) == 1
    item = items[0]
    if isinstance(item, PuzzleParseError):
        assert "the givens break the rules" in str(item)
    else:
        assert item.grid.shape == (9, 9)


def test_the_cli_never_shows_a_traceback_for_bad_input(tmp_path: Path) -> None:
    samples = {
        "sudoku": ["", "\x00\x01", "55..", "5 3 ~ ~ 7\n", "1" * 81, "#" * 500],
        "maze": ["", "#####\n#S  #\n# #\n#  G#\n#####\n", "S.G", "SG\nGS", "\xff"],
        "arc": ["", "{", '{"train": []}', '{"train": [{"input": [[1]]}], "test": [{"input": [[99]]}]}'],
    }
    for kind, texts in samples.items():
        for number, text in enumerate(texts):
            path = tmp_path / f"{kind}{number}.{'json' if kind == 'arc' else 'txt'}"
            path.write_bytes(text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text)
            run = subprocess.run(
                [sys.executable, "-m", "trmsolve.cli", kind, str(path), "--max-steps", "1"],
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert "Traceback" not in run.stderr, (kind, text, run.stderr)
            assert run.returncode in (0, 1, 2), (kind, text, run.returncode)
            if run.returncode == 2:
                assert run.stderr.startswith("error: ") and str(path) in run.stderr.splitlines()[0]
