"""Shared test fixtures: paths to the reference checkpoints copied from ../shared/fixtures."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")

FIXTURES = Path(__file__).parent / "fixtures"
EXAMPLES_DIR = Path(__file__).parent.parent / "examples"
REFERENCE = FIXTURES / "reference"
REFERENCE_NAMES = ["trm_att_rope", "trm_mlp_t", "trm_att_learned_arc", "hrm_rope"]


def reference_config(name: str) -> dict:
    return json.loads((REFERENCE / f"{name}.config.json").read_text())


@pytest.fixture(params=REFERENCE_NAMES)
def reference_name(request: pytest.FixtureRequest) -> str:
    return request.param
