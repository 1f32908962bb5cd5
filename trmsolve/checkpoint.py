"""Checkpoint I/O: our format (config.json + model.safetensors) and the published training-code format.

Our format is a directory:
    config.json         {"format": "trmsolve", "format_version": 1, "model": {...}, "task", "default_steps",
                         "encoding", "provenance", "metrics", "advice", "view_steps", "views" and
                         "restart_noise" (optional)}
    model.safetensors   the state dict, keys as published minus the `_orig_mod.model.inner.` prefix
    identifiers.json    ARC only: identifier names, index = puzzle identifier
    README.md           optional model card
Loading it never unpickles anything. Published checkpoints (`step_N`, `*.pt`: a pickled state dict with an
`all_config.yaml` beside it) are read with `torch.load(weights_only=True)`, which refuses anything but
tensors and plain containers.

Both are memory-mapped and the model takes the mapped tensors as its parameters (built on the meta device,
loaded with `assign=True`): a 1.8 GB ARC checkpoint costs about its own size in memory, not two or three
copies, and a puzzle-embedding row is read from disk only when a task uses it.
"""

from __future__ import annotations

import json
import mmap
import os
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from trmsolve.config import ARCH_NAMES, CheckpointInfo, ModelConfig
from trmsolve.errors import CheckpointError
from trmsolve.kinds import KINDS, all_kinds, get_kind
from trmsolve.network import RecursiveReasoningModel, build_model

FORMAT = "trmsolve"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
IDENTIFIERS_FILE = "identifiers.json"
RUN_CONFIG = "all_config.yaml"
TOKEN_TABLE = "embed_tokens.embedding_weight"  # every TRM/HRM state dict has it; what precedes it is the prefix
WRAPPERS = ("ema", "ema_state_dict", "model_ema", "state_dict", "model", "module")  # keys some runs nest weights under
SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}  # fmt: skip


def task_encoding(task: str | None) -> dict[str, Any]:
    """The token encoding of a known task as config.json records it ({} for none)."""
    return get_kind(task).encoding if task in KINDS else {}


# ---------------------------------------------------------------------------------------------- our format


def save_model(model: RecursiveReasoningModel, out_dir: str | Path, *, card: str | None = None) -> Path:
    """Write `model` in our format. Weights are stored in float32 whatever the model runs in."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    info = model.info
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.config.to_dict(),
        "task": info.task,
        "default_steps": info.default_steps,
        "encoding": info.encoding or task_encoding(info.task),
        "provenance": info.provenance,
        "metrics": info.metrics,
    }
    if info.advice:
        config["advice"] = info.advice
    for key in ("view_steps", "views", "restart_noise"):
        if getattr(info, key):
            config[key] = getattr(info, key)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items()}
    # A new file moved into place: a process (this one too) that has the old weights memory-mapped keeps them.
    partial = out / f"{WEIGHTS_FILE}.{os.getpid()}.tmp"
    save_file(state, str(partial), metadata={"format": FORMAT})
    partial.replace(out / WEIGHTS_FILE)
    (out / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    if model.identifiers is not None:
        (out / IDENTIFIERS_FILE).write_text(json.dumps(model.identifiers))
    if card is not None:
        (out / "README.md").write_text(card)
    return out


def read_config(model_dir: Path) -> tuple[ModelConfig, CheckpointInfo]:
    path = model_dir / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read model config ({exc})") from None
    if data.get("format") != FORMAT or "model" not in data:
        raise CheckpointError(f'{path}: not a trmsolve model config (no "format": "{FORMAT}")')
    if data.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: format version {data['format_version']} is newer than this trmsolve")
    try:
        config = ModelConfig.from_dict(data["model"])
        config.check()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    info = CheckpointInfo(
        task=data.get("task"),
        default_steps=int(data.get("default_steps") or config.halt_max_steps),
        encoding=data.get("encoding", {}),
        provenance=data.get("provenance", {}),
        metrics=data.get("metrics", {}),
        advice=data.get("advice"),
        view_steps=int(data["view_steps"]) if data.get("view_steps") else None,
        views=int(data["views"]) if data.get("views") else None,
        restart_noise=float(data["restart_noise"]) if data.get("restart_noise") else None,
    )
    return config, info


def load_model_dir(model_dir: str | Path) -> RecursiveReasoningModel:
    """Load our format (float32, CPU)."""
    model_dir = Path(model_dir)
    config, info = read_config(model_dir)
    weights = model_dir / WEIGHTS_FILE
    state = mapped_safetensors(weights)
    model = model_from_state(config, info, state, str(weights))
    identifiers = model_dir / IDENTIFIERS_FILE
    if identifiers.exists():
        model.identifiers = json.loads(identifiers.read_text())
    return model


def mapped_safetensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a safetensors file as views of a private (copy-on-write) memory map: nothing is read until
    used and nothing is copied. safetensors' own loader copies every tensor out of its map, which for a large
    puzzle-embedding table doubles the memory a model needs."""
    try:
        with path.open("rb") as f:
            (header_len,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(header_len))
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, struct.error, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read weights ({exc})") from None
    state = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = SAFETENSORS_DTYPES[entry["dtype"]]
            start, end = entry["data_offsets"]
            count = (end - start) // dtype.itemsize
            if count == 0:  # frombuffer refuses empty views
                state[name] = torch.empty(entry["shape"], dtype=dtype)
                continue
            flat = torch.frombuffer(mapped, dtype=dtype, count=count, offset=8 + header_len + start)
            state[name] = flat.view(entry["shape"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: cannot read weights (tensor {name}: {exc})") from None
    return state


def model_from_state(
    config: ModelConfig, info: CheckpointInfo, state: dict[str, torch.Tensor], source: str
) -> RecursiveReasoningModel:
    """Instantiate from `config` and load `state` strictly, naming the first mismatch in one line.

    Every size is checked against sane bounds and the weights' shapes on the meta device first, so a
    config asking for more than its weights hold is refused before anything is allocated."""
    try:
        config.check()
        with torch.device("meta"):
            expected = build_model(config, info).state_dict()
    except ValueError as exc:
        raise CheckpointError(f"{source}: {exc}") from None
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} tensors (e.g. {missing[0]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        raise CheckpointError(f"{source}: weights do not fit the config: {', '.join(parts)}")
    for name, tensor in expected.items():
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{source}: shape of {name} is {list(state[name].shape)}, the config needs {list(tensor.shape)}"
            )
    with torch.device("meta"):  # the weights become the parameters: no second copy of a large table
        model = build_model(config, info)
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    return model.eval()


# ----------------------------------------------------------------------------------------- published format


def read_published_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A published state dict with its prefix stripped, pickled (`step_N`, `*.pt`) or in safetensors (as some
    Hub repos hold them), memory-mapped. Tensors only: nothing else is unpickled. EMA exports that nest the
    weights under a key (`ema`, `state_dict`, `model`, ...) or use another prefix are found by their token
    table."""
    path = Path(path)
    try:
        raw = mapped_safetensors(path) if path.suffix == ".safetensors" else _torch_load(path)
    except CheckpointError:
        raise
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: truncated or not a PyTorch checkpoint ({reason[:160]})") from None
    except Exception as exc:  # pickle.UnpicklingError and friends from weights_only refusing an object
        raise CheckpointError(f"{path}: refused to load: holds more than tensors ({type(exc).__name__})") from None
    while isinstance(raw, dict) and not any(k.endswith(TOKEN_TABLE) for k in raw):
        nested = [raw[k] for k in WRAPPERS if isinstance(raw.get(k), dict)]
        if not nested:
            break
        raw = nested[0]
    if not isinstance(raw, dict) or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise CheckpointError(f"{path}: not a state dict (a mapping of names to tensors)")
    tables = [k for k in raw if k.endswith(TOKEN_TABLE)]
    if len(tables) != 1:
        sample = ", ".join(list(raw)[:3])
        raise CheckpointError(
            f"{path}: not a TRM/HRM state dict (keys like {sample}; expected '_orig_mod.model.inner.{TOKEN_TABLE}')"
        )
    prefix = tables[0][: -len(TOKEN_TABLE)]
    return {k[len(prefix) :]: v for k, v in raw.items() if k.startswith(prefix)}


def _torch_load(path: Path) -> Any:
    """torch.load, memory-mapped where the file's format allows it (the zip format torch.save writes)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError as exc:
        if "mmap" not in str(exc):
            raise
        return torch.load(path, map_location="cpu", weights_only=True)


def run_config_among(names: Iterable[str]) -> str | None:
    """Which of the file names in a checkpoint's folder is its run config: `all_config.yaml`, else the folder's
    only YAML file (some exports name it after the run). One rule for a local folder and a Hub repo's listing."""
    yamls = [name for name in names if name.endswith((".yaml", ".yml"))]
    if RUN_CONFIG in yamls:
        return RUN_CONFIG
    return yamls[0] if len(yamls) == 1 else None


def run_config_beside(path: Path) -> Path | None:
    """The run config in the folder of the checkpoint file `path` (see `run_config_among`)."""
    name = run_config_among(p.name for p in path.parent.iterdir() if p.is_file())
    return None if name is None else path.parent / name


def read_published_config(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """The run config as a dict: a mapping as given, or a YAML/JSON file (`all_config.yaml`)."""
    if isinstance(source, dict):
        return source
    import yaml

    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CheckpointError(f"{path}: cannot read config ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a config mapping")
    return data


def infer_config(
    state: dict[str, torch.Tensor], run_config: dict[str, Any], task: str | None, source: str
) -> tuple[ModelConfig, str | None]:
    """ModelConfig for a published state dict: the run's `arch` section, with the data-set sizes that
    `all_config.yaml` lacks derived from tensor shapes, else from the task (given or implied by vocab)."""
    arch = run_config.get("arch", run_config)
    if not isinstance(arch, dict) or "name" not in arch:
        raise CheckpointError(f"{source}: config has no `arch` section with a `name`")
    if arch["name"] not in ARCH_NAMES:
        raise CheckpointError(f"{source}: unknown architecture {arch['name']!r} (supported: {', '.join(ARCH_NAMES)})")
    if "embed_tokens.embedding_weight" not in state:
        raise CheckpointError(f"{source}: no embed_tokens.embedding_weight tensor: not a TRM/HRM checkpoint")
    vocab_size = int(state["embed_tokens.embedding_weight"].shape[0])
    by_vocab = {kind.vocab_size: kind.name for kind in all_kinds()}
    if task is None:
        task = by_vocab.get(vocab_size)
    elif task not in KINDS:
        raise CheckpointError(f"unknown task {task!r} (known: {', '.join(KINDS)})")
    elif get_kind(task).vocab_size != vocab_size:
        raise CheckpointError(
            f"{source}: vocabulary of {vocab_size} tokens does not fit task {task} ({get_kind(task).vocab_size})"
        )
    num_ids = int(state["puzzle_emb.weights"].shape[0]) if "puzzle_emb.weights" in state else 1
    probe = ModelConfig.from_published(arch, seq_len=1, vocab_size=vocab_size, num_puzzle_identifiers=num_ids)
    prefix = probe.num_prefix_tokens
    seq_len = run_config.get("seq_len")
    if seq_len is None and "embed_pos.embedding_weight" in state:
        seq_len = int(state["embed_pos.embedding_weight"].shape[0]) - prefix
    if seq_len is None:
        widths = [v.shape[1] for k, v in state.items() if re.search(r"mlp_t\.gate_up_proj\.weight$", k)]
        if widths:
            seq_len = int(widths[0]) - prefix
    if seq_len is None and task is not None:
        seq_len = get_kind(task).seq_len
    if seq_len is None:
        raise CheckpointError(
            f"{source}: cannot tell the sequence length (vocabulary {vocab_size} fits no known task); "
            "pass --task sudoku|maze|arc"
        )
    config = ModelConfig.from_published(
        arch, seq_len=int(seq_len), vocab_size=vocab_size, num_puzzle_identifiers=num_ids
    )
    return config, task


def load_published(
    path: str | Path, *, config: str | Path | dict[str, Any] | None = None, task: str | None = None
) -> RecursiveReasoningModel:
    """Load a checkpoint written by the published TRM/HRM training code."""
    path = Path(path)
    if config is None:
        config = run_config_beside(path)
        if config is None:
            raise CheckpointError(f"{path}: no all_config.yaml next to it; pass the run's config")
    run_config = read_published_config(config)
    state = read_published_state(path)
    model_config, task = infer_config(state, run_config, task, str(path))
    info = CheckpointInfo(
        task=task,
        default_steps=model_config.halt_max_steps,
        encoding=task_encoding(task),
        provenance={"converted_from": path.name, "source_format": "published TRM/HRM training code"},
    )
    return model_from_state(model_config, info, state, str(path))


def convert(
    src: str | Path,
    out_dir: str | Path,
    *,
    config: str | Path | dict[str, Any] | None = None,
    task: str | None = None,
    provenance: dict[str, Any] | None = None,
) -> Path:
    """Turn a published-format checkpoint into our format; returns the output directory."""
    model = load_published(src, config=config, task=task)
    model.info.provenance.update(provenance or {})
    return save_model(model, out_dir)


# ------------------------------------------------------------------------------------------------ dispatch


def bundled_root() -> Path | None:
    """Where the bundled models live (`weights/`, installed as the package data `trmsolve.weights`)."""
    from importlib.resources import files

    try:
        return Path(str(files("trmsolve.weights")))
    except ModuleNotFoundError:
        return None


def bundled_dir(name: str) -> Path | None:
    """The bundled model called `name` (`weights/<name>/`), if there is one."""
    root = bundled_root()
    candidate = root / name if root is not None else None
    return candidate if candidate is not None and (candidate / CONFIG_FILE).exists() else None


def bundled_names() -> list[str]:
    root = bundled_root()
    return sorted(p.name for p in root.iterdir() if (p / CONFIG_FILE).exists()) if root is not None else []
