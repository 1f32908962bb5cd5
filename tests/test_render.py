"""Rendering: trace frames, verdict lines, the summary table and the tracer's two modes."""

from __future__ import annotations

import io

import numpy as np
from rich.console import Console

from trmsolve.kinds import Verdict, get_kind
from trmsolve.render import Tracer, halting_bar, summary_table, trace_frame, verdict_line, verdict_style
from trmsolve.solver import Result, Step, Summary

SUDOKU = get_kind("sudoku")
ARC = get_kind("arc")
GIVENS = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"


def plain(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    console.print(renderable)
    return console.file.getvalue()


def sudoku_step(step: int, changed: np.ndarray | None, *, q: float = 0.42, last: bool = False) -> Step:
    (puzzle,) = SUDOKU.parse(GIVENS, "p.txt")
    answer = np.where(puzzle.grid > 0, puzzle.grid, 9)
    return Step(
        puzzle=puzzle,
        step=step,
        max_steps=16,
        answer=answer,
        changed=changed,
        confidence=np.full((9, 9), 0.75),
        q_halt_prob=q,
        last=last,
    )


def test_trace_frame_shows_step_changes_confidence_and_halting() -> None:
    changed = np.zeros((9, 9), bool)
    changed[0, 1] = changed[4, 4] = changed[8, 8] = True
    text = plain(trace_frame(SUDOKU, sudoku_step(3, changed)))
    lines = text.splitlines()
    assert lines[0] == "p.txt:1"
    assert lines[1] == "step 3/16 · 3 cells changed · confidence 0.75 · q_halt 0.42 ████░░░░░░"
    assert lines[2].split() == ["4", "9", "9", "│", "9", "9", "9", "│", "8", "9", "5"]  # givens kept, rest 9
    assert len(lines) == 2 + 11  # status, then 9 rows and 2 box separators


def test_trace_frame_first_and_last_step() -> None:
    first = plain(trace_frame(SUDOKU, sudoku_step(1, None, q=0.05)))
    assert "step 1/16 · first answer" in first and "stops here" not in first
    last = plain(trace_frame(SUDOKU, sudoku_step(9, np.zeros((9, 9), bool), q=0.97, last=True)))
    assert "step 9/16 · 0 cells changed" in last and "q_halt 0.97 ██████████ · stops here" in last


def test_trace_frame_marks_changed_cells_where_the_kind_shows_them_in_text() -> None:
    (puzzle,) = ARC.parse('{"train": [], "test": [{"input": [[1, 2], [3, 4]]}]}', "t.json")
    answer = np.array([[4, 3], [2, 1]])
    step = Step(puzzle, 2, 4, answer, answer != np.array([[4, 3], [2, 9]]), np.ones((2, 2)), 0.5, False)
    text = plain(trace_frame(ARC, step))
    assert "1 cell changed" in text
    assert "1*" in text and "4 " in text  # ARC marks the changed cell with a star


def result(valid: bool, correct: bool | None, problems: list[str]) -> Result:
    (puzzle,) = SUDOKU.parse(GIVENS, "p.txt")
    return Result(
        puzzle=puzzle,
        answer=puzzle.grid,
        verdict=Verdict(valid, correct, problems),
        text="",
        input_text="",
        expected_text=None,
        steps=5,
        max_steps=16,
        halted=True,
        q_halt_prob=0.93,
        confidence=0.88,
        elapsed_ms=41.2,
        model="m",
    )


def test_verdict_line_never_says_solved_for_a_failing_answer() -> None:
    bad = plain(verdict_line(result(False, None, ["3 conflicts", "2 empty cells"])))
    assert bad.startswith("✗ 3 conflicts; 2 empty cells · 5/16 steps (halted) · q_halt 0.93 · confidence 0.88")
    assert "solved" not in bad
    wrong = plain(verdict_line(result(True, False, [])))
    assert wrong.startswith("✗ valid, but differs from the known answer") and "solved" not in wrong
    assert plain(verdict_line(result(True, True, []))).startswith("✓ solved")
    catch = plain(verdict_line(result(True, None, ["not a shortest path: 60 steps, the shortest has 56"])))
    assert catch.startswith("~ solved (not a shortest path: 60 steps, the shortest has 56)")
    assert verdict_style(Verdict(False))[1] == verdict_style(Verdict(True, False))[1] == "bold red"


def test_verdict_line_says_why_the_puzzle_stopped() -> None:
    """The Q head, the step limit, or verified solving's check before either (it once said "max steps" at 4/32)."""
    ran = result(True, True, [])
    assert "5/16 steps (halted)" in plain(verdict_line(ran))
    for steps, why in ((16, "max steps"), (4, "answer checked")):
        ran.steps, ran.halted = steps, False
        assert f"{steps}/16 steps ({why})" in plain(verdict_line(ran))
    assert "view" not in plain(verdict_line(ran))
    ran.view, ran.symmetry, ran.total_steps = 2, "rotated 90 degrees", 75
    # an answer from another view says which (counted from 1, as --trace counts them), in words a person reads
    assert "4/16 steps (answer checked) · by view 3 (rotated 90 degrees) (75 steps in all) · q_halt" in plain(
        verdict_line(ran)
    )
    ran.symmetry = "digits 358194276, rows 789546231, columns 321897456, restart 2"
    assert "by view 3 (a relabelled, reordered copy, restart 2)" in plain(verdict_line(ran))
    # a failing maze whose best answer is the puzzle as given, after every view ran: the cost is said too
    ran.view, ran.symmetry, ran.steps, ran.max_steps, ran.total_steps = 0, "identity", 32, 32, 256
    assert "32/32 steps (max steps) · as given (256 steps in all) · q_halt" in plain(verdict_line(ran))


def test_halting_bar() -> None:
    assert halting_bar(0.0) == "░" * 10 and halting_bar(1.0) == "█" * 10 and halting_bar(0.26) == "███░░░░░░░"


def test_summary_table() -> None:
    summary = Summary()
    for item in (result(True, True, []), result(False, False, ["1 conflict"]), result(True, None, [])):
        summary.add(item)
    text = plain(summary_table(summary), width=60)
    figures = dict(line.rsplit("  ", 1) for line in text.splitlines()[1:])
    assert {k.strip(): v.strip() for k, v in figures.items() if k.strip() in ("puzzles", "valid", "correct")} == {
        "puzzles": "3",
        "valid": "2/3",
        "correct": "1/2",
    }
    assert all(len(line) <= 60 and line == line.rstrip() for line in text.splitlines())  # fits, never cut


def test_tracer_prints_each_frame_as_text_off_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    tracer = Tracer(SUDOKU, console)
    for n in (1, 2, 3):
        tracer(sudoku_step(n, None if n == 1 else np.zeros((9, 9), bool), last=n == 3))
    out = console.file.getvalue()
    assert [line.split(" · ")[0] for line in out.splitlines() if line.startswith("step ")] == [
        "step 1/16",
        "step 2/16",
        "step 3/16",
    ]
    assert tracer.live is None


def test_tracer_redraws_in_place_on_a_terminal() -> None:
    console = Console(file=io.StringIO(), width=100, force_terminal=True, color_system=None)
    tracer = Tracer(SUDOKU, console)
    tracer(sudoku_step(1, None))
    assert tracer.live is not None and tracer.live.is_started
    tracer(sudoku_step(2, np.zeros((9, 9), bool), last=True))
    assert tracer.live is None  # stopped on the puzzle's last step, leaving the last frame
    out = console.file.getvalue()
    assert "step 2/16" in out and "\x1b[" in out  # cursor movements: redrawn, not appended
