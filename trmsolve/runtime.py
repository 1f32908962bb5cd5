"""What the `trmsolve` command does to its whole process: settings made before any model runs, and how it exits.
The library never does these on its own: they change the whole process, which is the application's to decide
(`keep_freed_memory` is public for programs that solve many puzzles through the library)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import platform
import sys
from typing import NoReturn

# glibc's mallopt parameters (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_FREE_BYTES = 128 << 20  # free memory a heap keeps at its top before handing the rest back
MMAP_THRESHOLD_BYTES = 32 << 20  # blocks below this come from the heaps: glibc's largest threshold on 64-bit


def spin_briefly() -> None:
    """Let OpenMP threads spin only briefly between operations; call before torch is imported.

    GNU OpenMP's default spin (300,000 rounds) takes a busy core from other processes, while not spinning at
    all (OMP_WAIT_POLICY=PASSIVE) made one Sudoku 1.7x slower on an idle CPU. A short spin keeps the idle
    speed and gives a busy core back sooner (docs/cli.md, measured). A user's own setting wins."""
    if "OMP_WAIT_POLICY" not in os.environ:
        os.environ.setdefault("GOMP_SPINCOUNT", "10000")


def keep_freed_memory() -> bool:
    """Have glibc's malloc keep the memory a refinement step frees for the next step. Returns whether it did.

    Every step allocates and frees the same tensors. By default glibc hands large blocks, and the free top of
    the per-thread heaps the side-by-side passes allocate from, back to the kernel, and the next step faults
    every page in again, zeroed: 9,000-65,000 page faults a step for the bundled maze model at 32-64 a batch on
    two threads; under a thousand with these settings, half the kernel time, 8 hard 30x30 mazes from the
    command line in 0.94x the wall time (benchmarks/results/keep_freed_memory_2026-12-06.txt). The process keeps up to
    KEEP_FREE_BYTES free per heap.
    Elsewhere than glibc (macOS, Windows, musl), or where the user set MALLOC_* variables, nothing changes."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name.startswith("MALLOC_") for name in os.environ):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(mallopt(M_TRIM_THRESHOLD, KEEP_FREE_BYTES))


def exit_now(code: int) -> NoReturn:
    """End the process with `code` without tearing the interpreter down, after running its exit handlers and
    flushing its output. With torch loaded the teardown (freeing every module's objects, one by one) took
    0.3-0.5 s, the most of what one Sudoku cost beyond importing torch (benchmarks/results/exit_now_2026-12-06.txt); the
    command needs none of it: its files are closed where they are written, and the OS frees the rest."""
    atexit._run_exitfuncs()  # what atexit.register asked for: thread pools joined, compile workers stopped
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a reader that went away, a closed stream: nothing to say
            stream.flush()
    os._exit(code)
