"""The networks: the published TRM and HRM, one module each, chosen by `ModelConfig.arch`.

Parameter names equal the published state dicts after their `_orig_mod.model.inner.` prefix, so published
checkpoints load as they are. `base` holds what both share; `layers` the blocks; `neighbour` the square-canvas
variant (neighbour attention, canvas crop) the bundled maze model uses.
"""

from __future__ import annotations

from trmsolve.config import CheckpointInfo, ModelConfig
from trmsolve.network.base import Carry, RecursiveReasoningModel, StepOutput
from trmsolve.network.hrm import HRM
from trmsolve.network.trm import TRM

ARCHITECTURES: dict[str, type[RecursiveReasoningModel]] = {"trm": TRM, "hrm": HRM}


def build_model(config: ModelConfig, info: CheckpointInfo | None = None) -> RecursiveReasoningModel:
    """A freshly initialised network of `config.arch`."""
    try:
        architecture = ARCHITECTURES[config.arch]
    except KeyError:
        raise ValueError(f"unknown arch {config.arch!r} (known: {', '.join(ARCHITECTURES)})") from None
    return architecture(config, info)


__all__ = ["ARCHITECTURES", "HRM", "TRM", "Carry", "RecursiveReasoningModel", "StepOutput", "build_model"]
