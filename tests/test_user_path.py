"""What a person meets on the way from a puzzle to its answer: the trace ends on the answer it reports, answers
stream out as puzzles settle, and the screen is never silent while the model works."""

from __future__ import annotations

import itertools
import json
import os
import pty
import select
import signal
import subprocess
import time
from pathlib import Path

from conftest import FIXTURES
from terminal import ROOT, TRMSOLVE, interruptible, plain, run_cli

# top95 #1: the bundled model solves it by another view (view 3) within a second or two.
TOP95_1 = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
INKALA = "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."
EASY = [
    "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..",
    "2...8.3...6..7..84.3.5..2.9...1.54.8.........4.27.6...3.1..7.4.72..4..6...4.1...3",
    "......9.7...42.18....7.5.261..9.4....5.....4....5.7..992.1.8....34.59...5.7......",
]
ONE_THREAD = ("--dtype", "float32", "--threads", "1")


def last_frame(screen: str) -> tuple[str, list[str]]:
    """The status line and the grid lines of the last trace frame on the screen (up to the verdict or the end)."""
    lines = plain(screen).splitlines()
    start = max(i for i, line in enumerate(lines) if line.startswith("step "))
    grid = []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith(("✓", "✗", "~", "?", "summary")):
            break
        grid.append(line)
    return lines[start], grid


def test_the_trace_ends_on_the_answer_a_sudoku_got_from_another_view() -> None:
    """It once ended on a stale frame of the puzzle as given (row 4 holding two 3s) under "✓ solved"."""
    run = run_cli("sudoku", TOP95_1, "--trace", "--trace-delay", 0, "--json", *ONE_THREAD, stderr_tty=True)
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert run.code == 0 and record["valid"] and record["view"] > 0  # found by another view
    status, grid = last_frame(run.terminal)
    assert f"view {record['view'] + 1} (" in status and "stops here" in status
    digits = "".join(ch for line in grid for ch in line if ch.isdigit())
    assert digits == record["output"]  # the reported answer, as the puzzle was given


def test_the_trace_ends_on_the_path_a_restart_found() -> None:
    maze = FIXTURES / "data" / "maze_restart.csv"
    args = ("maze", maze, "--views", 16, "--max-steps", 12, "--trace", "--trace-delay", 0, "--json", *ONE_THREAD)
    run = run_cli(*args, stderr_tty=True, columns=200)
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    assert record["valid"] and record["route"] == "restart"
    status, grid = last_frame(run.terminal)
    assert f"view {record['view'] + 1} (" in status and "restart 1" in status
    answer = record["output"].splitlines()
    drawn = [[line[2 * c : 2 * c + 2] == "··" for c in range(len(answer[0]))] for line in grid[: len(answer)]]
    assert drawn == [[cell == "o" for cell in row] for row in answer]  # the path it reports, cell for cell


def test_answers_stream_out_as_puzzles_settle() -> None:
    """A hard puzzle first, easy ones after: the easy ones' lines come first, while the hard one still runs."""
    proc = subprocess.Popen(
        [TRMSOLVE, "sudoku", "-", "--json", *ONE_THREAD],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write("\n".join([INKALA, *EASY]) + "\n")
    proc.stdin.close()
    arrivals = [(time.monotonic(), json.loads(line)) for line in proc.stdout]
    assert proc.wait(timeout=300) == 0
    assert [r["index"] for _, r in arrivals][-1] == 0  # the hard one last
    assert sorted(r["index"] for _, r in arrivals) == [0, 1, 2, 3]
    hard_at, hard = arrivals[-1]
    assert hard_at - arrivals[-2][0] > 0.2  # written when it settled, not with its batch mates
    assert all(r["elapsed_ms"] < hard["elapsed_ms"] for _, r in arrivals[:-1])  # each its own time


def watch(*args: object, interrupt_on: str | None = None, hold: float = 3.0) -> tuple[int, str, float]:
    """Run `trmsolve *args` with stdout and stderr on one terminal, as a person sees it (Ctrl-C once
    `interrupt_on` has been on the screen for `hold` seconds, when given): the exit code, the screen as text, and
    the longest time the screen stood still between the first output and the end."""
    controller, device = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color"}
    proc = subprocess.Popen([TRMSOLVE, *map(str, args)], cwd=ROOT, stdout=device, stderr=device, env=env,
                            preexec_fn=interruptible)  # fmt: skip
    os.close(device)
    chunks: list[tuple[float, bytes]] = []
    seen_at = None  # when `interrupt_on` came on screen
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if (
                interrupt_on is not None
                and seen_at is None
                and interrupt_on in plain(b"".join(c for _, c in chunks).decode(errors="replace"))
            ):
                seen_at = time.monotonic()
            if interrupt_on is not None and seen_at is not None and time.monotonic() - seen_at > hold:
                proc.send_signal(signal.SIGINT)
                interrupt_on = None
            if not ready:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            chunks.append((time.monotonic(), chunk))
        code = proc.wait(timeout=300)
    finally:
        proc.kill()
        os.close(controller)
    times = [at for at, _ in chunks]
    screen = plain(b"".join(chunk for _, chunk in chunks).decode(errors="replace"))
    return code, screen, max((b - a for a, b in itertools.pairwise(times)), default=0.0)


def test_a_single_hard_puzzle_shows_progress_every_second() -> None:
    """One hard Sudoku once showed a blank screen for 8-32 s: now the screen changes at least once a second from
    the first output to the answer, and says what the batch is doing."""
    code, screen, still = watch("sudoku", INKALA, *ONE_THREAD)
    assert code == 0 and "1 puzzle" in screen and "views running" in screen and "✓ solved" in screen
    assert still < 1.0


def test_a_batch_shows_progress_every_second(tmp_path: Path) -> None:
    many = tmp_path / "many.txt"
    many.write_text("\n".join([INKALA, *EASY] * 50) + "\n")
    code, screen, still = watch("sudoku", many, "-q", *ONE_THREAD, interrupt_on="puzzle-steps")
    assert code == 130 and "/200 puzzles" in screen and "puzzle-steps" in screen
    assert "interrupted: " in screen and " of 200 puzzles done" in screen
    assert still < 1.0


def test_adapting_shows_its_progress_every_second_and_ctrl_c_says_what_was_done() -> None:
    """`--adapt` once showed nothing for minutes, and Ctrl-C then exited without a word."""
    code, screen, still = watch("arc", "examples/arc/flip_horizontal.json", "--adapt", "--threads", 1,
                                interrupt_on="choosing where to start")  # fmt: skip
    assert code == 130 and "adapting flip_horizontal: choosing where to start" in screen
    assert "interrupted while adapting flip_horizontal: 0 of 1 unseen tasks adapted" in screen
    assert still < 1.0


def test_the_arc_trace_ends_on_the_voted_answer() -> None:
    """The trace draws the plain version of the task step by step; the answer reported is the vote over every
    augmented version, so the last frame is that."""
    run = run_cli("arc", "examples/arc/b1948b0a.json", "--trace", "--trace-delay", 0, "--json", stderr_tty=False)
    (record,) = [json.loads(line) for line in run.stdout.splitlines()]
    lines = run.stderr.splitlines()
    caption = max(i for i, line in enumerate(lines) if line.startswith("the vote's answer: attempt 1"))
    rows = record["attempts"][0].splitlines()
    width = len(rows[0])  # each line: the input's row, then the answer's
    drawn = ["".join(lines[caption + 2 + r].split()[-width:]) for r in range(len(rows))]
    assert drawn == rows and "stops here" in lines[caption]
