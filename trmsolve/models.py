"""Models by name: where `--model` finds one (bundled, a directory, a published checkpoint, the Hub) and the
listing of `trmsolve models`.

This module sits above `checkpoint` (our format and the published one) and `hub` (Hugging Face), so the two
never import each other.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from trmsolve.checkpoint import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    bundled_dir,
    bundled_names,
    load_model_dir,
    load_published,
    read_config,
)
from trmsolve.errors import CheckpointError
from trmsolve.hardware import resolve_device, resolve_dtype
from trmsolve.inference import compile_steps
from trmsolve.network import RecursiveReasoningModel


def load_model(
    source: str | Path,
    *,
    device: str | torch.device = "cpu",
    dtype: str | torch.dtype | None = None,
    config: str | Path | dict[str, Any] | None = None,
    task: str | None = None,
    compile: bool = False,
) -> RecursiveReasoningModel:
    """Load a model for inference from a bundled name, one of our directories, a published checkpoint
    file, or `hf:OWNER/REPO[/SUBDIR][@REVISION]`. Returns it in eval mode on `device` in `dtype`, its steps
    through torch.compile with `compile` (`inference.compile_steps`)."""
    text = str(source)
    path = Path(text).expanduser()
    if text.startswith("hf:"):
        from trmsolve.hub import load_hub_model  # huggingface_hub: 0.2 s of start-up a local model never needs

        model = load_hub_model(text[3:], config=config, task=task)
    elif path.is_dir():
        if (path / CONFIG_FILE).exists():
            model = load_model_dir(path)
        else:
            steps = sorted(path.glob("step_*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0))
            steps = steps or sorted(path.glob("*.pt"))
            if not steps:
                raise CheckpointError(f"{path}: neither a trmsolve model (config.json) nor a published run")
            model = load_published(steps[-1], config=config, task=task)  # the latest step of the run
    elif path.is_file():
        model = load_published(path, config=config, task=task)
    elif (bundled := bundled_dir(text)) is not None:
        model = load_model_dir(bundled)
    else:
        known = ", ".join(bundled_names()) or "none"
        raise CheckpointError(f"{text}: no such model file, directory or bundled model (bundled: {known})")
    target = resolve_device(device)
    model = model.to(device=target, dtype=resolve_dtype(dtype, target)).eval()
    if compile:
        compile_steps(model)
    return model


# ------------------------------------------------------------------------------------------------ listing


@dataclass
class ModelEntry:
    """One line of `trmsolve models`: a model to pass to --model, what it is for and how good it is."""

    name: str
    where: str  # bundled, cached, hub (publisher)
    task: str | None = None
    arch: str | None = None
    parameters: int | None = None
    headline: str = "not measured"  # one accuracy figure, measured by us or reported by its owner
    path: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # every measured figure (--json)
    layout: str | None = None  # a known Hub checkpoint: what its repo holds
    advice: str | None = None  # from the model's card: what it is not yet for, and what to use there


def count_parameters(weights: Path) -> int | None:
    """Parameters in a safetensors file, read from its header alone (no tensor is loaded)."""
    try:
        with safe_open(str(weights), framework="numpy") as f:
            names = [name for name in f.keys() if not name.endswith(("H_init", "L_init"))]  # noqa: SIM118 (not a dict)
            shapes = [f.get_slice(name).get_shape() for name in names]
    except (OSError, SafetensorError):
        return None
    return sum(math.prod(shape) for shape in shapes)


def headline(metrics: dict[str, Any]) -> str:
    """The figure that says most about a model: its test set's exact accuracy (or ARC pass@2), naming the
    set when the model has several (a maze model is measured on perfect and obstacle mazes of two sizes).
    It fits a 120-column line; `trmsolve models --json` has every figure."""
    entries = {k: v for k, v in metrics.items() if isinstance(v, dict)}
    key = next((k for k, v in entries.items() if "verified" in v), None)
    key = key or ("test" if "test" in entries else next(iter(entries), None))
    if key is None:
        return "not measured"
    entry = entries[key]
    named = "" if key.startswith("test_verified") or key == "test" else f" ({set_name(key)})"
    if "pass@2" in entry:
        return f"pass@2 {entry['pass@2']:.0%} of {entry.get('tasks', '?')} tasks{named}"
    if "verified" in entry:  # a named set in whole percent: the line stays within 120 columns
        exact = entry["verified"]["exact"]
        if named:
            return f"verified {exact:.0%} ({entry['n']:,} {set_name(key)})"
        return f"{exact:.1%} of {entry['n']:,}, verified"
    mode = "halting" if "halting" in entry else "all_steps"
    if mode not in entry:
        return "not measured"
    how = named or (", Q-head halting" if mode == "halting" else ", all steps")  # a named set leaves no room
    return f"{entry[mode]['exact']:.1%} of {entry['n']:,}{how}"


def set_name(key: str) -> str:
    """A metrics key as words: `test_perfect_5_9` -> `perfect 5-9`."""
    words = key.removeprefix("test_").split("_")
    if len(words) >= 2 and words[-1].isdigit() and words[-2].isdigit():
        words[-2:] = [f"{words[-2]}-{words[-1]}"]
    return " ".join(words)


def list_models() -> list[ModelEntry]:
    """Bundled models, models in the Hugging Face cache, and the known public checkpoints to fetch."""
    from trmsolve.catalog import KNOWN_CHECKPOINTS
    from trmsolve.hub import cached_models

    places = [(name, "bundled", bundled_dir(name)) for name in bundled_names()]
    places += [(cached.spec, "cached", cached.local) for cached in cached_models()]
    entries = []
    for name, where, path in places:
        entry = ModelEntry(name, where, path=None if path is None else str(path))
        if path is not None and (path / CONFIG_FILE).exists():  # None: a published checkpoint, converted on use
            model_config, info = read_config(path)
            entry.task, entry.arch, entry.metrics = info.task, model_config.arch, info.metrics
            entry.parameters = count_parameters(path / WEIGHTS_FILE)
            entry.headline = headline(info.metrics)
            entry.advice = info.advice
        entries.append(entry)
    entries += [
        ModelEntry(f"hf:{k.repo_id}", f"hub ({k.publisher})", k.task, k.arch, headline=k.reported, layout=k.layout)
        for k in KNOWN_CHECKPOINTS
    ]
    return entries
