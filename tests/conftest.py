"""Shared test fixtures: paths to the reference checkpoints copied from ../shared/fixtures."""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from hub_server import HubServer
from huggingface_hub import constants
from terminal import interruptible  # noqa: F401  (tests import it from here)

os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
TRMSOLVE = shutil.which("trmsolve", path=str(Path(sys.executable).parent)) or "trmsolve"  # the installed CLI
REFERENCE = FIXTURES / "reference"
REFERENCE_NAMES = ["trm_att_rope", "trm_mlp_t", "trm_att_learned_arc", "hrm_rope"]
HF_VARIABLES = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")


def reference_config(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.config.json").read_text())


@pytest.fixture(params=REFERENCE_NAMES)
def reference_name(request: pytest.FixtureRequest) -> str:
    return request.param


def reload_hf(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    """Set environment variables and let huggingface_hub read them again, as a new process would."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    importlib.reload(constants)


@pytest.fixture
def hub_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    server = HubServer()
    for name in HF_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    reload_hf(monkeypatch, HF_ENDPOINT=server.endpoint, HF_HOME=str(tmp_path / "hf"), HF_HUB_DISABLE_PROGRESS_BARS="1")
    yield server
    server.stop()
    monkeypatch.undo()
    importlib.reload(constants)


def saved(state: dict[str, object]) -> bytes:
    """The bytes torch.save writes for `state`, as a published checkpoint file holds them."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()
