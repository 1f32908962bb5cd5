"""The CLI as a person meets it in a terminal: stdout and stderr on a pseudo-terminal or a pipe, in every
combination, with the bundled models. Defects here are invisible to tests that capture both streams."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from terminal import ROOT, TRMSOLVE, interrupt_when_shown, plain, run_cli

EASY = "examples/sudoku/easy.txt"
COLLECTION = "examples/sudoku/collection.txt"


def json_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("kind,path", [("sudoku", EASY), ("maze", "examples/maze/small.txt")])
def test_json_lines_reach_a_pipe_when_stderr_is_a_terminal(kind: str, path: str) -> None:
    """`trmsolve sudoku easy.txt --json | wc -l` in a terminal: the JSON goes down the pipe, not to the screen."""
    run = run_cli(kind, path, "--json", stdout_tty=False, stderr_tty=True)
    assert run.code in (0, 1), run.terminal
    (record,) = json_records(run.stdout)
    assert record["kind"] == kind
    assert '"source"' not in run.terminal  # nothing of the data on the screen


def test_json_quiet_into_a_pipe_from_a_terminal_counts_like_jq() -> None:
    run = run_cli("sudoku", COLLECTION, "--json", "-q", stdout_tty=False, stderr_tty=True)
    records = json_records(run.stdout)
    assert len(records) == 4 and sum(r["valid"] for r in records) == 4
    assert "summary" in plain(run.terminal)  # the summary is for the person, on the terminal


def test_json_on_a_terminal_and_on_pipes() -> None:
    on_screen = run_cli("sudoku", EASY, "--json", stdout_tty=True, stderr_tty=False)
    (line,) = [line for line in plain(on_screen.terminal).splitlines() if line.startswith("{")]
    assert json.loads(line)["valid"] is True and on_screen.stderr == ""
    piped = run_cli("sudoku", EASY, "--json", stdout_tty=False, stderr_tty=False)
    assert len(json_records(piped.stdout)) == 1 and piped.stderr == ""
    both = run_cli("sudoku", COLLECTION, "--json", stdout_tty=True, stderr_tty=True)
    screen = plain(both.terminal)
    assert sum(line.startswith("{") for line in screen.splitlines()) == 4 and "summary" in screen


def test_grids_and_verdicts_on_a_narrow_terminal_never_break_inside_a_word() -> None:
    """Notes too: they were plain lines that the terminal cut at its margin, inside a word."""
    run = run_cli("sudoku", COLLECTION, "--max-steps", 101, stdout_tty=True, stderr_tty=True, columns=60)
    screen = plain(run.terminal)
    verdicts = [line for line in screen.splitlines() if line.startswith("✓")]
    assert len(verdicts) == 4
    words = {w for line in screen.splitlines() for w in line.split()}
    assert {"confidence", "steps", "puzzles", "valid", "minutes"} <= words  # whole, never cut at the margin
    assert any(line.startswith("note: --max-steps 101") for line in screen.splitlines())
    drawn = re.split(r"[\r\n]", plain(run.terminal.replace("\r", "\n")))  # live lines too, each as drawn
    assert not any(len(line) > 60 for line in drawn)


@pytest.mark.parametrize("device", ["cuda", "mps"])
def test_a_device_the_machine_lacks_is_one_error_line(device: str) -> None:
    run = run_cli("sudoku", EASY, "--device", device, stdout_tty=False, stderr_tty=False)
    assert run.code == 2
    assert run.stderr == f"error: device '{device}' is not available (available here: cpu)\n"


def test_usage_errors_help_and_version_as_git_prints_them() -> None:
    bad = run_cli("sudoku", EASY, "--bogus", stdout_tty=False, stderr_tty=False)
    assert bad.code == 2
    assert bad.stderr.splitlines() == ["error: No such option: --bogus", "see 'trmsolve sudoku --help'"]
    short = run_cli("sudoku", "-h", stdout_tty=False, stderr_tty=False)
    assert short.code == 0 and short.stdout.startswith("Usage: trmsolve sudoku [OPTIONS] INPUT...")
    assert "<bool>" not in short.stdout and "<str>" not in short.stdout and "(the checkpoint" not in short.stdout
    version = run_cli("--version", stdout_tty=False, stderr_tty=False)
    assert version.code == 0 and version.stdout.startswith("trmsolve ")


def test_a_missing_file_is_one_line() -> None:
    run = run_cli("sudoku", "no/such.txt", stdout_tty=False, stderr_tty=False)
    assert (run.code, run.stderr) == (2, "error: no/such.txt: no such file or directory\n")


def test_a_closed_pipe_is_quiet_and_not_a_wrong_answer() -> None:
    """`trmsolve sudoku many.txt --json | head -1`: exit 141 (as SIGPIPE), no traceback, no claim of a wrong answer."""
    puzzles = (ROOT / EASY).read_text().strip().splitlines()[-1]
    process = subprocess.Popen(
        [TRMSOLVE, "sudoku", "-", "--json", "-b", "1", "--no-verify"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    process.stdin.write(("\n".join([puzzles] * 400) + "\n").encode())
    process.stdin.close()
    json.loads(process.stdout.readline())
    process.stdout.close()  # what `head -1` does after its line
    assert process.wait(timeout=300) == 141
    assert process.stderr.read() == b""


def test_models_listing_is_one_readable_line_per_model() -> None:
    run = run_cli("models", stdout_tty=True, stderr_tty=True, columns=120)
    lines = [line for line in plain(run.terminal).splitlines() if line.strip()]
    assert lines[0].split()[:2] == ["NAME", "WHERE"]
    listed = [line for line in lines[1:] if not line.startswith("every figure")]
    assert 3 <= len(listed) <= 30 and all(len(line) <= 120 for line in listed)
    assert any(line.startswith("sudoku ") and "% of " in line for line in listed)
    records = json_records(run_cli("models", "--json", stdout_tty=False, stderr_tty=False).stdout)
    assert all("/work/" not in json.dumps(r["metrics"]) for r in records)  # nothing machine-specific shipped


def many_puzzles(folder: Path, count: int = 3000) -> Path:
    line = (ROOT / EASY).read_text().strip().splitlines()[-1]
    many = folder / "many.txt"
    many.write_text("\n".join([line] * count) + "\n")
    return many


def test_progress_shows_from_the_first_second_and_an_interrupt_says_how_far(tmp_path: Path) -> None:
    args = ["sudoku", str(many_puzzles(tmp_path)), "-q", "--threads", "1", "--no-verify", "--no-halt"]
    code, screen = interrupt_when_shown(args, "/3000 puzzles", subprocess.DEVNULL)  # all the work counted at once
    assert code == 130
    assert "interrupted: " in plain(screen)
    assert " of 3000 puzzles done" in plain(screen)


def test_json_into_a_pipe_from_a_terminal_shows_progress_as_whole_lines(tmp_path: Path) -> None:
    """`trmsolve sudoku many.txt --json | jq .valid` in a terminal: jq prints to the same screen as answers
    arrive, and a live bar redrawn in place left its frames among jq's lines. Into a pipe, progress comes as
    whole lines on stderr every few seconds, and the JSON Lines reach the pipe complete."""
    import threading

    reader, writer = os.pipe()
    received: list[bytes] = []
    drain = threading.Thread(target=lambda: received.extend(iter(lambda: os.read(reader, 65536), b"")))
    drain.start()
    args = ["sudoku", str(many_puzzles(tmp_path)), "--json", "--threads", "1", "--no-verify", "--no-halt", "-b", "8",
            "--max-steps", "2"]  # fmt: skip
    try:
        code, screen = interrupt_when_shown(args, "solving: ", writer, times=2)  # a line every 5 s
    finally:
        os.close(writer)
        drain.join(timeout=60)
        os.close(reader)
    assert code == 130
    lines = [line for line in plain(screen).splitlines() if line.startswith("solving: ")]
    assert lines and lines[0].startswith("solving: 0/3000 puzzles · 0 valid · ")  # from the first network step
    assert "8 puzzles running" in lines[0]  # what the batch (-b 8) is doing while nothing has settled
    assert "━" not in screen  # no bar
    records = json_records(b"".join(received).decode())
    assert records and all(r["valid"] for r in records)
