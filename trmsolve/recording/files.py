"""Where recordings go: the format from the file's suffix, one file a puzzle in a folder, or one page for all."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from trmsolve.errors import TrmsolveError
from trmsolve.recording.frames import Recording

ANIMATION_SUFFIXES = (".gif", ".webp", ".png")
SUFFIXES = (*ANIMATION_SUFFIXES, ".svg", ".html")
FOLDER_SUFFIX = ".gif"  # what a folder gets, one file a puzzle


def save(recordings: Recording | list[Recording], path: str | Path) -> Path:
    """Write `recordings` to `path` in the format its suffix names: an animation (.gif, .webp, .png), the last
    frame as a still (.svg) — both of one puzzle — or a web page of them all (.html)."""
    from trmsolve.recording.images import svg_still, write_animation
    from trmsolve.recording.page import page

    path = Path(path)
    many = recordings if isinstance(recordings, list) else [recordings]
    suffix = path.suffix.lower()
    problem = unfit(path, len(many))
    if problem:
        raise TrmsolveError(f"{path}: {problem}")
    if not all(r.frames for r in many):
        raise TrmsolveError(f"{path}: a recording without frames (the puzzle never ran a step)")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".html":
        path.write_text(page(many), encoding="utf-8")
    elif suffix == ".svg":
        path.write_text(svg_still(many[0]), encoding="utf-8")
    else:
        write_animation(many[0], path)
    return path


def unfit(path: Path, puzzles: int) -> str:
    """What keeps `path` from holding the recordings of `puzzles` puzzles ("" when nothing does)."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        return f"name a {', '.join(SUFFIXES)} file (the format follows the suffix)"
    if suffix != ".html" and puzzles != 1:
        return f"a {suffix} file holds one puzzle and there are {puzzles}"
    return ""


@dataclass
class RecordTarget:
    """`--record PATH`: a file, or a folder that gets one animation a puzzle (named after source and position)."""

    path: Path
    folder: bool
    puzzles: int  # how many will be recorded, for the files' numbering
    waiting: list[Recording] = field(default_factory=list)  # the page's puzzles, written when all have come

    @classmethod
    def parse(cls, raw: str, puzzles: int) -> RecordTarget:
        """Check `raw` before anything runs: a known suffix, and a single-puzzle format for a single puzzle."""
        from trmsolve.recording.images import require_pillow

        path = Path(raw)
        if raw.endswith(("/", "\\")) or path.is_dir():
            require_pillow(path)
            return cls(path, True, puzzles)
        problem = unfit(path, puzzles)
        if problem and path.suffix.lower() not in SUFFIXES:
            raise TrmsolveError(f"--record {raw}: {problem} or a folder ending in / (an animation a puzzle)")
        if problem:
            raise TrmsolveError(
                f"--record {raw}: {problem}; pass a folder (--record {path.with_suffix('')}/) for a {FOLDER_SUFFIX} "
                "each, or an .html page for all"
            )
        if path.suffix.lower() in ANIMATION_SUFFIXES:
            require_pillow(path)
        return cls(path, False, puzzles)

    def add(self, recording: Recording) -> Path | None:
        """Write a puzzle's recording as soon as it has settled (a page waits for `close`); the file written."""
        if self.folder:
            return save(recording, self.path / self.file_name(recording))
        if self.path.suffix.lower() == ".html":
            self.waiting.append(recording)
            return None
        return save(recording, self.path)

    def close(self) -> Path | None:
        """Write the page with every puzzle recorded so far, in input order (an interrupted run's too)."""
        if not self.waiting:
            return None
        return save(sorted(self.waiting, key=lambda r: r.index), self.path)

    def file_name(self, recording: Recording) -> str:
        digits = len(str(self.puzzles))
        name = re.sub(r"[^\w.-]+", "_", Path(recording.puzzle.source).name).strip("_") or "puzzle"
        return f"{recording.index + 1:0{digits}d}_{name}{FOLDER_SUFFIX}"
