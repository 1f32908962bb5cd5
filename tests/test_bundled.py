"""The bundled models: they load offline, solve what their cards say, and bfloat16 keeps their answers."""

from __future__ import annotations

import pytest
from conftest import EXAMPLES_DIR, FIXTURES

import trmsolve
from trmsolve.checkpoint import bundled_names
from trmsolve.inference import final, refine
from trmsolve.kinds import get_kind
from trmsolve.solver import read_inputs, solve
from trmsolve.train import load_data


def test_sudoku_is_bundled() -> None:
    assert "sudoku" in bundled_names()


def test_bundled_sudoku_solves_the_easy_example() -> None:
    model = trmsolve.load_model("sudoku")
    puzzles = list(read_inputs([EXAMPLES_DIR / "sudoku" / "easy.txt"], "sudoku"))
    [result] = list(solve(puzzles, model, kind="sudoku"))
    assert result.verdict.valid, result.verdict.summary


@pytest.mark.parametrize("halt", [False, True])
def test_bfloat16_keeps_the_trained_answers(halt: bool) -> None:
    """On a trained model, bf16 and fp32 agree on the argmax of at least 99% of positions."""
    split = load_data("sudoku", str(FIXTURES / "data" / "sudoku_eval_64.csv"))
    answers = {}
    for dtype in ("float32", "bfloat16"):
        model = trmsolve.load_model("sudoku", dtype=dtype)
        answers[dtype] = final(refine(model, split.inputs, halt=halt)).predictions
    agreement = (answers["float32"] == answers["bfloat16"]).float().mean().item()
    assert agreement >= 0.99, f"bf16 agrees with fp32 on {agreement:.2%} of positions"


def test_bundled_sudoku_card_metrics_are_recorded() -> None:
    """`trmsolve models` shows measured accuracy: it comes from config.json, written from a real evaluation."""
    model = trmsolve.load_model("sudoku")
    assert model.info.metrics, "the bundled model's config.json carries no measured metrics"
    assert model.info.provenance.get("trained_with") == "trmsolve train"
    assert get_kind("sudoku").seq_len == model.config.seq_len
