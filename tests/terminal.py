"""Run the real `trmsolve` console script with a pseudo-terminal on stdout and/or stderr.

Defects that appear only when a terminal is attached (Rich's live displays, wrapping at the terminal's
width, colour) are invisible to tests that capture both streams with pipes; these helpers let a test see
what a person at a terminal sees, and what a pipe such as `| jq` receives at the same time.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from dataclasses import dataclass
from pathlib import Path

TRMSOLVE = shutil.which("trmsolve", path=str(Path(sys.executable).parent)) or "trmsolve"
ROOT = Path(__file__).parent.parent


@dataclass
class Run:
    code: int
    stdout: str  # what the pipe on stdout received ("" when stdout was the terminal)
    stderr: str  # what the pipe on stderr received ("" when stderr was the terminal)
    terminal: str  # everything written to the terminal, escape codes and all


def _terminal(columns: int) -> tuple[int, int]:
    controller, device = pty.openpty()
    fcntl.ioctl(device, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    return controller, device


def run_cli(
    *args: object,
    stdout_tty: bool = False,
    stderr_tty: bool = True,
    columns: int = 120,
    stdin: str | None = None,
    timeout: float = 300,
    env: dict[str, str] | None = None,
) -> Run:
    """Run `trmsolve *args` from the project root with the chosen streams on one pseudo-terminal."""
    controller, device = _terminal(columns)
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR", "FORCE_COLOR")}
    environment.update({"TERM": "xterm-256color", **(env or {})})
    process = subprocess.Popen(
        [TRMSOLVE, *map(str, args)],
        cwd=ROOT,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=device if stdout_tty else subprocess.PIPE,
        stderr=device if stderr_tty else subprocess.PIPE,
        env=environment,
        start_new_session=True,
    )
    os.close(device)
    if stdin is not None:
        assert process.stdin is not None
        process.stdin.write(stdin.encode())
        process.stdin.close()
    pipes = {p: b"" for p in (process.stdout, process.stderr) if p is not None}
    seen = b""
    deadline = time.monotonic() + timeout
    open_fds = {controller: "tty", **{p.fileno(): p for p in pipes}}
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], 0.5)
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the terminal's other end closed (Linux reports EIO)
                chunk = b""
            if not chunk:
                del open_fds[fd]
            elif open_fds[fd] == "tty":
                seen += chunk
            else:
                pipes[open_fds[fd]] += chunk
    try:
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    out = pipes.get(process.stdout, b"").decode() if process.stdout else ""
    err = pipes.get(process.stderr, b"").decode() if process.stderr else ""
    return Run(code, out, err, seen.decode(errors="replace"))


def plain(text: str) -> str:
    """Terminal output without escape sequences and carriage returns, as a person reads it."""
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]", "", text)
    return text.replace("\r\n", "\n").replace("\r", "")


def interruptible() -> None:
    """`preexec_fn` for a CLI that a test interrupts: Ctrl-C's default action, whatever this run inherited."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_when_shown(args: list[str], marker: str, stdout: int, times: int = 1) -> tuple[int, str]:
    """Run `trmsolve *args` with stderr on a terminal, press Ctrl-C once `marker` has been on the screen `times`
    times (within two minutes); the exit code and all the terminal showed, escape codes and all."""
    controller, device = pty.openpty()
    process = subprocess.Popen(
        [TRMSOLVE, *args], cwd=ROOT, stdout=stdout, stderr=device, env={**os.environ, "TERM": "xterm"},
        preexec_fn=interruptible,
    )  # fmt: skip
    os.close(device)
    seen = b""
    try:
        deadline = time.monotonic() + 120
        while plain(seen.decode(errors="replace")).count(marker) < times and time.monotonic() < deadline:
            seen += os.read(controller, 4096)
        assert plain(seen.decode(errors="replace")).count(marker) >= times, seen
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
    finally:
        process.kill()  # never left running when the test fails
    try:
        while chunk := os.read(controller, 4096):
            seen += chunk
    except OSError:
        pass
    os.close(controller)
    return code, seen.decode(errors="replace")
