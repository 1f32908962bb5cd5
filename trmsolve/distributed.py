"""Solving and evaluating under torchrun: each process (rank) takes puzzles from one shared queue, and rank 0
gathers every result, so a job's output looks like one process's.

The queue is the key-value store torchrun already runs for its rendezvous (`torch.distributed.rendezvous`, the
c10d TCPStore): a rank claims the next puzzle with one atomic `add` when its batch has room, so a rank that drew
hard puzzles takes fewer of them and no rank waits while another still has a long list (verified solving makes
one puzzle cost 100 times another). Every rank reads and checks all inputs itself, so the claim is a position
in the input; a result travels back to rank 0 through the same store. No process group is created: nothing
here needs a collective, and a job of CPU processes needs no network setup beyond torchrun's own.

Outside torchrun (`WORLD_SIZE` unset or 1) `Shard.join()` is None and nothing changes.
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

import torch.distributed as dist

from trmsolve.errors import TrmsolveError

POLL_SECONDS = 0.05  # how often rank 0, its own work done, looks for the other ranks' results
STORE_TIMEOUT = timedelta(hours=24)  # a rank may wait this long for a key (a long batch on a slow rank)


@dataclass
class Shard:
    """This process's place in a torchrun job and the store the job shares."""

    rank: int
    world: int
    local_rank: int
    store: Any  # torch.distributed.Store: the job's own keys, under a prefix of torchrun's store
    node: int = 0  # the machine's number in the job (torchrun's GROUP_RANK)
    local_world: int = 1  # ranks on this machine
    threads: int = field(default=0, compare=False)  # this rank's own CPU threads, once `lend_threads` has run

    @classmethod
    def join(cls) -> Shard | None:
        """The shard of this process when torchrun started it with more than one rank, else None."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        if not dist.is_available():
            raise TrmsolveError("this torch build has no torch.distributed: run without torchrun")
        store, rank, world = next(dist.rendezvous("env://", timeout=STORE_TIMEOUT))
        store.set_timeout(STORE_TIMEOUT)
        job = os.environ.get("TORCHELASTIC_RUN_ID", "run")
        restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
        prefix = f"trmsolve/{job}/{restart}"  # a restarted job starts an empty queue
        local = int(os.environ.get("LOCAL_RANK", "0")), int(os.environ.get("LOCAL_WORLD_SIZE", world))
        node = int(os.environ.get("GROUP_RANK", "0"))
        return cls(rank, world, local[0], dist.PrefixStore(prefix, store), node, local[1])

    @property
    def leader(self) -> bool:
        """Rank 0: it prints, counts and scores for the whole job."""
        return self.rank == 0

    def part(self, name: str) -> Shard:
        """The same ranks with a queue and results of their own, for a second piece of work in one job (`eval`
        scores the published protocol, then verified solving)."""
        return replace(self, store=dist.PrefixStore(name, self.store), threads=0)

    def device(self, asked: str) -> str:
        """The device this rank runs on: `cuda` (or auto on a machine with GPUs) becomes `cuda:LOCAL_RANK`."""
        import torch

        if asked == "cuda" or (asked == "auto" and torch.cuda.is_available()):
            return f"cuda:{self.local_rank % max(1, torch.cuda.device_count())}"
        return asked

    # ------------------------------------------------------------------------------------------- the queue

    def claim(self, items: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """The (position, item) pairs of `items` this rank takes, one at a time as it asks: position k goes to
        whichever rank asks for the k-th claim first. Every rank must pass the same items."""
        listed = list(items)
        while True:
            claim = int(self.store.add("claim", 1)) - 1
            if claim >= len(listed):
                return
            yield listed[claim]

    def finished(self) -> None:
        """Say that this rank's share is done: the ranks still working on its machine may take its cores."""
        self.store.add(f"finished/{self.node}", 1)

    def lend_threads(self, device: Any) -> None:
        """On a CPU, once the queue is empty, take the threads of the ranks on this machine that have finished:
        their cores are free, and the job's last hard puzzles then run on every core, as in one process."""
        import torch

        if getattr(device, "type", device) != "cpu":
            return
        self.threads = self.threads or torch.get_num_threads()
        done = int(self.store.add(f"finished/{self.node}", 0))
        share = self.threads * self.local_world // max(1, self.local_world - done)
        if share != torch.get_num_threads():
            torch.set_num_threads(share)

    # ----------------------------------------------------------------------------------------- the results

    def publish(self, result: Any) -> None:
        """Send one result to rank 0."""
        number = int(self.store.add("sent", 1)) - 1
        self.store.set(f"result/{number}", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))

    def gather(self) -> Gather:
        """Rank 0's side of `publish`: the results other ranks have sent, in the order they were sent."""
        return Gather(self.store)


class Gather:
    """Rank 0 reads the results the other ranks publish, as they arrive."""

    def __init__(self, store: Any) -> None:
        self.store, self.received = store, 0

    def arrived(self) -> Iterator[Any]:
        """Every result sent since the last call, without waiting."""
        while self.store.check([f"result/{self.received}"]):
            key = f"result/{self.received}"
            yield pickle.loads(self.store.get(key))  # our own ranks' results, from our own store
            self.store.delete_key(key)
            self.received += 1

    def rest(self, expected: int) -> Iterator[Any]:
        """Results until `expected` have been received in all, waiting for them."""
        while self.received < expected:
            before = self.received
            yield from self.arrived()
            if self.received == before:
                time.sleep(POLL_SECONDS)
