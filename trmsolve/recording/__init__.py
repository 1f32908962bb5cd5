"""Recordings of the refinement: the frames `--trace` shows, kept, and drawn as an animation, a page or a still.

`record` solves puzzles and returns a `Recording` each (its `frames`, the reported answer last, and its
verdict); `save` writes recordings in the format a file's suffix names. Animations need Pillow
(`pip install 'trmsolve[record]'`); the page and the still need nothing more.
"""

from trmsolve.recording.files import RecordTarget, save
from trmsolve.recording.frames import Recorder, Recording, record, step_dict

__all__ = ["RecordTarget", "Recorder", "Recording", "record", "save", "step_dict"]
