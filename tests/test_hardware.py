"""`--dtype auto` and `--device`: bfloat16 only where the hardware multiplies it natively; devices the
machine lacks are one-line errors. The CPU's features are read once; tests replace that reading."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from trmsolve import hardware
from trmsolve.errors import TrmsolveError
from trmsolve.inference import compile_steps, compiled_steps, run_step
from trmsolve.network import StepOutput, build_model

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "fma"}, torch.float32),  # AVX2 only: bf16 is emulated, ~150x slower
        ({"avx512f", "avx512bw", "avx512_vnni"}, torch.float32),  # AVX-512 without BF16: ~3x slower
        ({"avx512f", "avx512_bf16"}, torch.bfloat16),
        ({"avx512f", "amx_bf16", "amx_tile"}, torch.bfloat16),
        (set(), torch.float32),  # nothing known (no /proc/cpuinfo): the safe choice
    ],
)
def test_auto_picks_bfloat16_only_on_cpus_with_native_bf16(
    monkeypatch: pytest.MonkeyPatch, flags: set[str], expected: torch.dtype
) -> None:
    monkeypatch.setattr(hardware, "cpu_flags", lambda: frozenset(flags))
    assert hardware.resolve_dtype("auto", "cpu") == expected
    assert hardware.resolve_dtype(None, "cpu") == expected
    assert hardware.resolve_dtype("float32", "cpu") == torch.float32  # asked for: given
    assert hardware.resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    assert hardware.describe("cpu")["auto_dtype"] == str(expected).removeprefix("torch.")


def test_cuda_uses_its_own_bf16_support(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert hardware.native_bf16(torch.device("cuda"))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert not hardware.native_bf16(torch.device("cuda"))


def test_this_machines_flags_are_read() -> None:
    flags = hardware.cpu_flags()
    assert isinstance(flags, frozenset)
    assert hardware.describe()["device"] in hardware.available_devices()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_missing_device_is_a_one_line_error() -> None:
    with pytest.raises(TrmsolveError, match=r"device 'cuda' is not available \(available here: cpu"):
        hardware.resolve_device("cuda")
    with pytest.raises(TrmsolveError, match="unknown device 'tpu9'"):
        hardware.resolve_device("tpu9")
    with pytest.raises(TrmsolveError, match="unknown dtype"):
        hardware.resolve_dtype("float8")


def test_rows_per_pass_fit_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hardware, "l2_cache_bytes", lambda: 2 << 20)
    cpu = torch.device("cpu")
    assert hardware.rows_per_pass(cpu, 82 * 256, 4) == 18  # the bundled Sudoku model: 18 puzzles a pass
    assert hardware.rows_per_pass(cpu, 916 * 512, 4) == 1  # a published ARC model: one at a time
    assert hardware.rows_per_pass(cpu, 82 * 256, 2) == 37  # bfloat16 hidden states are half the size
    assert hardware.rows_per_pass(torch.device("meta"), 82 * 256, 4) is None  # a GPU takes the whole batch


def test_a_step_in_passes_gives_what_one_pass_gives() -> None:
    from trmsolve.models import load_model

    model = load_model("sudoku", dtype="float32")  # a float32 tolerance; bf16 kernels may round by row count
    inputs = torch.randint(1, 11, (7, 81))
    x = model.embed(inputs, None)
    carry = model.initial_carry(7)
    with torch.inference_mode():
        whole, parts = run_step(model, carry, x), run_step(model, carry, x, rows=3)
    assert torch.allclose(whole.logits, parts.logits, atol=1e-4)
    assert torch.equal(whole.logits.argmax(-1), parts.logits.argmax(-1))
    assert torch.allclose(whole.carry.z_H, parts.carry.z_H, atol=1e-4)
    assert torch.allclose(whole.q_halt_logits, parts.q_halt_logits, atol=1e-4)


def test_pass_slices_share_the_batch_among_workers() -> None:
    def sizes(batch: int, rows: int | None, workers: int) -> list[int]:
        return [s.stop - s.start for s in hardware.pass_slices(batch, rows, workers)]

    assert sizes(64, 9, 1) == [8] * 8  # equal shares of at most `rows`
    assert sizes(8, 9, 2) == [4, 4]  # one pass would leave a core idle
    assert sizes(5, 9, 2) == [3, 2]
    assert sizes(1, 9, 2) == [1]
    assert sizes(64, None, 2) == [64]  # a GPU: all at once


def test_side_by_side_passes_compute_what_one_thread_computes() -> None:
    """Two passes on two threads give bit for bit the logits of the same passes one after the other, run in the
    caller's inference mode, and leave torch's thread count as it was."""
    from trmsolve.models import load_model

    model = load_model("sudoku", dtype="float32")
    inputs = torch.randint(1, 11, (8, 81))
    x, carry = model.embed(inputs, None), model.initial_carry(8)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        with torch.inference_mode():
            alone = run_step(model, carry, x, rows=4)
        torch.set_num_threads(2)
        with torch.inference_mode():
            side_by_side = run_step(model, carry, x, rows=4)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(alone.logits, side_by_side.logits)
    assert side_by_side.logits.is_inference() and not side_by_side.logits.requires_grad


def test_side_by_side_passes_run_under_the_callers_autocast() -> None:
    """Autocast is kept per thread: the pass workers take the caller's, so a bf16-autocast step gives in passes
    side by side what it gives in one thread, and not the float32 answer."""
    from trmsolve.models import load_model

    model = load_model("sudoku", dtype="float32")
    inputs = torch.randint(1, 11, (8, 81))
    x, carry = model.embed(inputs, None), model.initial_carry(8)
    threads = torch.get_num_threads()
    try:
        outputs = []
        for count in (1, 2):
            torch.set_num_threads(count)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
                outputs.append(run_step(model, carry, x, rows=4).carry.z_H)
        with torch.inference_mode():
            plain = run_step(model, carry, x, rows=4).carry.z_H
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[1], plain)  # the workers did not fall back to float32 matmuls


@pytest.mark.skipif(shutil.which(os.environ.get("CXX", "g++")) is None, reason="torch.compile needs a C++ compiler")
def test_a_compiled_step_gives_what_the_eager_step_gives_one_pass_after_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`--compile`: the logits and carry of the eager steps to float rounding, over passes of unequal size (a
    recompile), run one after another: compiled code is not safe to call from several threads at once."""
    from trmsolve.config import ModelConfig
    from trmsolve.data.maze import load_tokens

    torch.manual_seed(0)  # a small network of the bundled maze model's kind: compiling it takes seconds
    config = ModelConfig(seq_len=900, vocab_size=6, hidden_size=32, num_heads=2, H_cycles=2, L_cycles=2,
                         L_layers=1, neighbour_attention=True)  # fmt: skip
    model = build_model(config).eval()
    inputs = torch.from_numpy(load_tokens(EXAMPLES / "maze" / "maze-hard.csv")[0])[[0, 1, 2, 3, 0]]
    x = model.embed(inputs)

    def steps() -> list[StepOutput]:
        carry, outputs = model.initial_carry(5), []
        for _ in range(2):
            outputs.append(run_step(model, carry, x, rows=2))  # passes of 2, 2 and 1 puzzles
            carry = outputs[-1].carry
        return outputs

    with torch.inference_mode():
        eager = steps()
        compile_steps(model)
        monkeypatch.setattr("trmsolve.inference.map_passes", lambda *_: pytest.fail("compiled passes on threads"))
        compiled = steps()
    recursion = compiled_steps(model)
    assert recursion is not None and recursion.ready
    for a, b in zip(eager, compiled, strict=True):
        assert torch.allclose(a.logits, b.logits, atol=1e-4) and torch.equal(a.logits.argmax(-1), b.logits.argmax(-1))
        assert torch.allclose(a.carry.z_H, b.carry.z_H, atol=1e-4)
        assert torch.allclose(a.carry.z_L, b.carry.z_L, atol=1e-4)
        assert torch.allclose(a.q_halt_logits, b.q_halt_logits, atol=1e-4)


def test_compiled_keeps_an_error_of_the_function_itself() -> None:
    """Only a failure to compile becomes the `--compile: torch.compile failed` error; a bug met while tracing
    (here a shape mismatch) is raised as itself, not blamed on the compiler."""
    wrong_shapes = hardware.Compiled(lambda x: x @ torch.ones(3, 3))
    with pytest.raises(Exception) as raised:
        wrong_shapes(torch.ones(4, 4))
    assert not isinstance(raised.value, TrmsolveError)
    assert "same reduction dim" in str(raised.value) or "size mismatch" in str(raised.value).lower()
