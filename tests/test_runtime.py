"""The process-wide settings the trmsolve command makes (trmsolve/runtime.py)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from trmsolve import runtime

ROOT = Path(__file__).resolve().parent.parent

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Runs the trmsolve command (`trmsolve version`, as the console script runs it before exiting), then steps of the
# bundled maze model on 32 random 13x13 mazes in the same process, and prints the page faults a step of the six
# after the first two.
FAULTS_AFTER_THE_COMMAND = """
import resource, sys, torch
import trmsolve.cli as cli
sys.argv = ["trmsolve", "version"]
cli.run()
from trmsolve.inference import pass_rows, run_step
from trmsolve.models import load_model
model = load_model("maze", dtype="float32")
torch.manual_seed(0)
inputs = torch.ones(32, 30, 30, dtype=torch.long)
inputs[:, :13, :13] = torch.randint(1, 6, (32, 13, 13))
inputs = inputs.view(32, 900)
positions = model.canvas_positions(inputs)
with torch.inference_mode():
    x, carry = model.embed(inputs, None, positions), model.initial_carry(32, positions)
    for step in range(8):
        if step == 2:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        carry = run_step(model, carry, x, positions, pass_rows(model, positions)).carry
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 6)
"""


def faults_a_step(**env: str) -> float:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", FAULTS_AFTER_THE_COMMAND], capture_output=True, text=True, env={**clean, **env}
    )
    assert done.returncode == 0, done.stderr
    return float(done.stdout.splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="the setting is glibc's")
def test_the_command_keeps_freed_memory_so_steps_do_not_fault_their_pages_back_in() -> None:
    """glibc by default hands freed blocks back to the kernel; each step then faults them in again (3,400-17,000
    page faults a step seen here, two threads: how many varies from process to process). The command keeps
    them: a few hundred, from the steps just after the first."""
    kept = faults_a_step()
    handed_back = faults_a_step(MALLOC_ARENA_MAX="16")  # a user's malloc setting: the command changes nothing
    assert kept < 1500 and 2 * kept < handed_back, (kept, handed_back)


def test_a_users_malloc_settings_and_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert runtime.keep_freed_memory() is False
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_")
    monkeypatch.setattr(platform, "libc_ver", lambda: ("", ""))
    assert runtime.keep_freed_memory() is False


def test_the_console_script_exits_at_once_with_its_code_its_output_and_its_exit_handlers() -> None:
    """`main` skips the interpreter's teardown (0.3-0.5 s with torch loaded), not what a program relies on."""
    script = (
        "import atexit, sys, trmsolve.cli as cli\n"
        "atexit.register(lambda: print('exit handler ran'))\n"
        "sys.argv = ['trmsolve', 'sudoku', sys.argv[1], '--json']\n"
        "cli.main()\n"
        "print('after main')\n"
    )
    for puzzle, code in (("examples/sudoku/collection.txt", 0), ("examples/bad/sudoku.txt", 2)):
        done = subprocess.run([sys.executable, "-c", script, puzzle], capture_output=True, text=True, cwd=ROOT)
        lines = done.stdout.splitlines()
        assert done.returncode == code, done.stderr
        assert lines[-1] == "exit handler ran" and "after main" not in lines
        assert all(line.startswith("{") for line in lines[:-1]) and len(lines) > 1, lines
