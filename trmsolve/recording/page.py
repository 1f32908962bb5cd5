"""Recordings as one self-contained web page: a step slider, play, confidence shading, the Q-halt probability and
changed cells over the steps, the views tried and the verdict. Inline CSS, JavaScript and SVG only (no network),
so the file works offline and can be shared as it is; the page's code is `page.html` beside this module."""

from __future__ import annotations

import json
from html import escape
from importlib.resources import files
from typing import Any

import numpy as np

from trmsolve.recording.frames import Recording
from trmsolve.recording.images import Layout
from trmsolve.render import changed_cells

DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"  # a cell's palette index, one character (palettes stay under 36)


def page(recordings: list[Recording], title: str = "trmsolve recording") -> str:
    """The HTML page of `recordings` (a list to choose from when there are several)."""
    from trmsolve.render import verdict_style

    template = files("trmsolve.recording").joinpath("page.html").read_text(encoding="utf-8")
    data = {"puzzles": [puzzle_data(r, verdict_style(r.verdict)[0]) for r in recordings]}
    # "</" cannot end the script early once escaped; the JSON stays valid JavaScript.
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    return template.replace("__TITLE__", escape(title)).replace("__DATA__", payload)


def puzzle_data(recording: Recording, mark: str) -> dict[str, Any]:
    """One puzzle's frames, compact: palette indexes and confidence as one character a cell."""
    frames, colours_before = [], None
    pictures = [recording.picture(frame) for frame in recording.frames]
    for frame, picture in zip(recording.frames, pictures, strict=True):
        rows, cols = picture.colours.shape
        colours = "".join(DIGITS36[i] for i in picture.colours.ravel().tolist())
        labels = picture.labels.ravel().tolist()
        confidence = frame.confidence if frame.confidence.shape == (rows, cols) else np.ones((rows, cols))
        changed = frame.changed if frame.changed is not None and frame.changed.shape == (rows, cols) else None
        where, info = recording.headline(frame)
        frames.append(
            {
                "rows": rows,
                "cols": cols,
                "col": None if colours == colours_before else colours,
                "lab": "".join(label or " " for label in labels) if any(labels) else "",
                "conf": "".join(str(min(9, int(c * 10))) for c in confidence.ravel().tolist()),
                "chg": None if changed is None else np.flatnonzero(changed).tolist(),
                "changed": changed_cells(frame),
                "q": round(frame.q_halt_prob, 4),
                "where": where,
                "info": info,
                "last": frame.last,
            }
        )
        colours_before = colours
    verdict = recording.verdict
    outcome = "passed its check: the answer reported" if mark == "✓" else "the answer reported"
    return {
        "source": recording.puzzle.source,
        "palette": [list(pair) for pair in recording.kind.palette],
        "block": pictures[-1].block,
        "cell": Layout.of(pictures).cell,
        "frames": frames,
        "views": recording.views,
        "views_are": recording.views_are,
        "reported": recording.reported,
        "verdict": {"mark": mark, "summary": verdict.summary, "problems": list(verdict.problems), "outcome": outcome},
    }
