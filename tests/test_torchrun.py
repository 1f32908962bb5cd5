"""Solving under torchrun: two CPU processes (`torchrun --standalone --nproc-per-node 2`, gloo's machine, no
network) print each puzzle once, with the verdicts one process gives, report a bad file once, and stop on Ctrl-C
saying how far they got."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import EXAMPLES_DIR, TRMSOLVE

from trmsolve.cli.common import EXIT_BAD_INPUT

TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
PUZZLES = EXAMPLES_DIR / "sudoku" / "collection.txt"  # four generated puzzles
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def torchrun(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [*TORCHRUN, "-m", "trmsolve", *map(str, args), "--threads", "1"]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=ENV, stdin=subprocess.DEVNULL)


def rows(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_two_ranks_print_each_puzzle_once_with_the_verdicts_of_one_process(tmp_path: Path) -> None:
    many = tmp_path / "many.txt"
    many.write_text(PUZZLES.read_text() * 3)  # 12 puzzles: both ranks get work
    job = torchrun("sudoku", many, "--json", "--keep-order")
    one = subprocess.run([TRMSOLVE, "sudoku", str(many), "--json"], capture_output=True, text=True, env=ENV)
    assert job.returncode == one.returncode == 0, job.stderr
    shared, alone = rows(job.stdout), rows(one.stdout)
    assert [row["index"] for row in shared] == list(range(12))  # each once, in input order with --keep-order
    by_index = {row["index"]: row for row in alone}
    for row in shared:
        assert (row["valid"], row["output"]) == (by_index[row["index"]]["valid"], by_index[row["index"]]["output"])
    assert re.search(r"puzzles +12\n", job.stderr), job.stderr  # one summary, from rank 0, for the whole job
    assert job.stderr.count("summary") == 1


def test_a_bad_file_is_reported_once_and_the_rest_is_solved(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("12345\n")
    job = torchrun("sudoku", PUZZLES, bad, "--json")
    assert job.returncode == 1 and f"exitcode  : {EXIT_BAD_INPUT} " in job.stderr  # torchrun: rank 0's status
    assert sum(line.startswith(f"error: {bad}:1:") for line in job.stderr.splitlines()) == 1, job.stderr
    out = rows(job.stdout)
    errors = [row for row in out if "error" in row]
    assert len(errors) == 1 and errors[0]["source"] == str(bad)
    assert sorted(row["index"] for row in out if "error" not in row) == [0, 1, 2, 3]


def test_ctrl_c_stops_every_rank_and_rank_0_says_how_far_it_got(tmp_path: Path) -> None:
    many = tmp_path / "many.txt"
    many.write_text(PUZZLES.read_text() * 20)
    command = [*TORCHRUN, "-m", "trmsolve", "sudoku", str(many), "--json", "--threads", "1"]
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                           start_new_session=True)  # fmt: skip
    assert job.stdout is not None
    first = job.stdout.readline()  # a result: both ranks are solving
    os.killpg(job.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground processes
    rest, stderr = job.communicate(timeout=120)
    assert job.returncode != 0
    assert all(json.loads(line)["index"] >= 0 for line in [first, *rest.splitlines()])  # whole lines only
    assert stderr.count("interrupted: ") == 1, stderr  # rank 0's line; the other ranks stop quietly
    assert "of 80 puzzles done" in stderr


def test_arc_and_stdin_say_what_runs_under_torchrun() -> None:
    job = torchrun("arc", EXAMPLES_DIR / "arc")
    assert job.returncode == 1 and f"exitcode  : {EXIT_BAD_INPUT} " in job.stderr
    assert "run it without torchrun" in job.stderr
    job = torchrun("sudoku", "-")
    assert job.returncode == 1 and "stdin under torchrun" in job.stderr


def test_eval_scores_the_whole_set_over_both_ranks() -> None:
    data = Path(__file__).parent / "fixtures" / "data" / "sudoku_eval_64.csv"
    args = ["eval", "sudoku", "--data", str(data), "--limit", "8", "--batch-size", "4", "--json"]
    job = torchrun(*args)
    one = subprocess.run([TRMSOLVE, *args, "--threads", "1"], capture_output=True, text=True, env=ENV)
    assert job.returncode == one.returncode == 0, job.stderr
    shared, alone = json.loads(job.stdout), json.loads(one.stdout)  # one report: rank 0's
    assert shared["ranks"] == 2 and shared["n"] == alone["n"] == 8
    for protocol in ("all_steps", "halting", "verified"):
        assert shared[protocol] == alone[protocol]


def test_a_rank_takes_the_gpu_of_its_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA branch, run on a CPU with the device count mocked: rank r of a machine uses cuda:LOCAL_RANK."""
    import torch

    from trmsolve.distributed import Shard

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    shard = Shard(rank=5, world=8, local_rank=5, store=None, node=1, local_world=4)
    assert (shard.device("cuda"), shard.device("auto"), shard.device("cpu")) == ("cuda:1", "cuda:1", "cpu")
    shard.lend_threads(torch.device("cuda", 1))  # a GPU rank lends no threads (and asks the store nothing)


def test_a_rank_left_working_takes_the_threads_of_the_finished_ones() -> None:
    import torch
    import torch.distributed as dist

    from trmsolve.distributed import Shard

    before = torch.get_num_threads()
    store = dist.HashStore()
    working, done = (Shard(rank, 2, rank, store, local_world=2) for rank in (0, 1))
    try:
        torch.set_num_threads(1)
        working.lend_threads(torch.device("cpu"))
        assert torch.get_num_threads() == 1  # both still working
        done.finished()
        working.lend_threads(torch.device("cpu"))
        assert torch.get_num_threads() == 2  # the finished rank's core
    finally:
        torch.set_num_threads(before)
