"""The kind registry and the architecture registry: what the engine needs of a kind or a model variant is said
once, in its class, and everything else reads it from there."""

from __future__ import annotations

import importlib

import pytest
import torch

from trmsolve.checkpoint import bundled_dir
from trmsolve.config import ModelConfig
from trmsolve.kinds import GENERATED, KINDS, get_kind
from trmsolve.network import ARCHITECTURES, HRM, TRM, build_model
from trmsolve.train import default_model_config


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_says_its_shapes_model_and_data(name: str) -> None:
    kind = get_kind(name)
    assert kind.name == name
    assert kind.encoding == {"seq_len": kind.seq_len, "vocab_size": kind.vocab_size, "tokens": kind.tokens}
    assert bundled_dir(kind.default_model) is not None  # `trmsolve NAME` works out of the box
    assert (kind.data_module is not None) == (name in GENERATED)
    if kind.data_module is not None:
        module = importlib.import_module(kind.data_module)
        for needed in ("load_tokens", "augment", "tiers", "generate", "SYMMETRIES", "QUESTION_TOKEN"):
            assert hasattr(module, needed), f"{kind.data_module} lacks {needed}"


@pytest.mark.parametrize("name", list(KINDS))
def test_the_default_training_model_fits_its_kind(name: str) -> None:
    config = default_model_config(name, hidden_size=32, num_heads=2, L_layers=1)
    kind = get_kind(name)
    assert (config.seq_len, config.vocab_size) == (kind.seq_len, kind.vocab_size)
    with torch.device("meta"):
        model = build_model(config)
    assert model.lm_head.weight.shape == (kind.vocab_size, 32)


def test_the_architecture_is_chosen_by_name() -> None:
    assert ARCHITECTURES == {"trm": TRM, "hrm": HRM}
    with torch.device("meta"):
        hrm = build_model(ModelConfig(arch="hrm", H_layers=1, L_layers=1, hidden_size=32, num_heads=2))
        trm = build_model(ModelConfig(arch="trm", L_layers=1, hidden_size=32, num_heads=2))
    assert isinstance(hrm, HRM) and hasattr(hrm, "H_level")
    assert isinstance(trm, TRM) and not hasattr(trm, "H_level")
    with pytest.raises(ValueError, match="unknown arch 'xyz'"):
        build_model(ModelConfig(arch="xyz"))  # type: ignore[arg-type]


def test_the_command_line_has_words_for_every_kind() -> None:
    """Outside kinds/, a new kind needs only its command's help texts: this fails until they are written."""
    from trmsolve.cli.common import HELP_ORDER, SUMMARIES
    from trmsolve.cli.solve import KIND_HELP

    assert set(KIND_HELP) == set(KINDS)
    assert set(KINDS) <= set(SUMMARIES) and set(KINDS) <= set(HELP_ORDER)
