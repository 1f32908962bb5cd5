"""The published data sets' CSV layout (source, question, answer, rating), written by every kind's generator."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

HEADER = ("source", "question", "answer", "rating")


def write_csv(path: str | Path, rows: Iterable[Sequence], *, progress: Callable[[int], None] | None = None) -> int:
    """Write `rows` under the published header and return how many were written.

    `progress(k)` is called after each row with the number written so far (the CLI drives a progress bar
    with it). The file appears under its name only when complete: a generator that fails or is interrupted
    part-way leaves neither a truncated CSV that looks finished nor its partial file.
    """
    path = Path(path)
    partial = path.with_name(path.name + ".part")
    count = 0
    try:
        with partial.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(HEADER)
            for row in rows:
                writer.writerow(row)
                count += 1
                if progress is not None:
                    progress(count)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return count
