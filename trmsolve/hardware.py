"""Which device and number format to run on: `--device auto` and `--dtype auto`.

bfloat16 pays only where the hardware multiplies it natively: CUDA GPUs with bf16 support, and CPUs with
AMX or AVX-512 BF16. Elsewhere a CPU emulates it: measured 3x slower than float32 on an AVX-512 CPU without
BF16 and 150x slower on an AVX2-only one. So `auto` means bfloat16 on those devices and float32 everywhere
else. The CPU's features are read from /proc/cpuinfo (Linux); where they cannot be read, float32.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Generic, TypeVar

import torch

from trmsolve.errors import TrmsolveError

DTYPES = {"float32": torch.float32, "fp32": torch.float32, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # /proc/cpuinfo names of native bf16 matmul instructions


class DeviceError(TrmsolveError):
    """A device that this machine does not have."""


def _mps_available() -> bool:
    return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    return found


def resolve_device(device: str | torch.device) -> torch.device:
    """`auto` picks CUDA, then Apple MPS, then the CPU; a device the machine lacks is a one-line error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
    try:
        resolved = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"unknown device {name!r} (available here: {', '.join(available_devices())})") from None
    if resolved.type in ("cuda", "mps") and resolved.type not in available_devices():
        raise DeviceError(f"device {name!r} is not available (available here: {', '.join(available_devices())})")
    return resolved


def _cpuinfo(*fields: str) -> str:
    """The value of the first of `fields` in /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        if line.startswith(fields):
            return line.split(":", 1)[1].strip()
    return ""


@cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    return frozenset(_cpuinfo("flags", "Features").split())


@cache
def cpu_model() -> str:
    """The CPU's name as the kernel reports it, e.g. "Intel(R) Xeon(R) Processor"."""
    return _cpuinfo("model name", "Model") or platform.processor() or platform.machine()


CACHE_SHARE = 0.75  # of a core's L2 cache that one pass's hidden states may fill
DEFAULT_L2_BYTES = 1 << 20  # where the size cannot be read (not Linux): a common L2 size, on the small side


@lru_cache(maxsize=1)
def l2_cache_bytes() -> int:
    """One core's L2 cache, from sysfs (Linux); DEFAULT_L2_BYTES where it cannot be read."""
    for index in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            if (index / "level").read_text().strip() == "2" and (index / "type").read_text().strip() != "Instruction":
                size = (index / "size").read_text().strip().upper()
                return int(size.rstrip("KMB")) * {"K": 1 << 10, "M": 1 << 20}.get(size[-1], 1)
        except (OSError, ValueError):
            continue
    return DEFAULT_L2_BYTES


def rows_per_pass(device: torch.device, row_elements: int, element_bytes: int) -> int | None:
    """How many puzzles to run through the network at once on `device`, each `row_elements` numbers of hidden
    state: on a CPU, as many as fit in CACHE_SHARE of a core's L2 cache (measured on the bundled and
    published-size models: 1.4-1.5x faster than 64 at once, benchmarks/bench_speed.py); elsewhere all (None)."""
    if device.type != "cpu":
        return None
    return max(1, int(CACHE_SHARE * l2_cache_bytes()) // (row_elements * element_bytes))


def pass_slices(batch: int, rows: int | None, workers: int = 1) -> list[slice]:
    """The passes of one step over `batch` puzzles: equal shares of at most `rows` puzzles (None: one pass),
    and at least one per worker while there are puzzles enough."""
    if rows is None or batch <= 1:
        return [slice(0, batch)]
    count = max(-(-batch // rows), min(workers, batch))
    size = -(-batch // count)
    return [slice(start, min(start + size, batch)) for start in range(0, batch, size)]


def pass_workers(device: torch.device) -> int:
    """How many passes run at once: one per torch thread on a CPU (see `map_passes`), one elsewhere."""
    return torch.get_num_threads() if device.type == "cpu" else 1


Part = TypeVar("Part")
Result = TypeVar("Result")
_pools: dict[int, ThreadPoolExecutor] = {}


def map_passes(run: Callable[[Part], Result], parts: Sequence[Part], device: torch.device) -> list[Result]:
    """`[run(part) for part in parts]`, with the passes of a CPU step side by side, one thread each.

    A pass's matmuls are thin (a few puzzles' tokens x the hidden size): split across cores they spend much of
    their time waiting on each other, while whole passes on separate cores do not (benchmarks/bench_speed.py:
    Sudoku at 64 a batch, 2 cores, 1.2-1.4x). Each pass computes exactly what it would alone. For the
    duration, torch runs one thread per operation (a process-wide setting, restored after)."""
    workers = min(pass_workers(device), len(parts))
    if workers <= 1:
        return [run(part) for part in parts]
    modes = torch.is_grad_enabled(), torch.is_inference_mode_enabled(), autocast_dtype(device)
    pool = _pools.get(workers) or _pools.setdefault(workers, ThreadPoolExecutor(workers, "trmsolve-pass"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return list(pool.map(lambda part: _with_modes(modes, run, part), parts))
    finally:
        torch.set_num_threads(threads)


class Compiled(Generic[Result]):
    """`fn` through torch.compile (inductor: a CPU needs a C++ compiler), compiled at its first call, whose
    failure to compile is one clear error naming `option` rather than a traceback from inside the compiler; an
    error of `fn` itself, met while tracing it, stays what it is. Compiled code is not safe to call from several
    threads at once (pytorch#118260): callers run it on one."""

    def __init__(self, fn: Callable[..., Result], option: str = "--compile") -> None:
        self.fn, self.option, self.ready = torch.compile(fn), option, False

    def __call__(self, *args: Any) -> Result:
        if self.ready:
            return self.fn(*args)
        try:
            out = self.fn(*args)
        except torch._dynamo.exc.BackendCompilerFailed as e:  # inductor's errors (no compiler, a C++ error) are these
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise TrmsolveError(f"{self.option}: torch.compile failed ({reason}); run without {self.option}") from e
        self.ready = True
        return out


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The number format autocast gives matmuls on `device` in this thread, or None where autocast is off."""
    return torch.get_autocast_dtype(device.type) if torch.is_autocast_enabled(device.type) else None


def _with_modes(modes: tuple[bool, bool, torch.dtype | None], run: Callable[[Part], Result], part: Part) -> Result:
    """`run(part)` in a pass worker under the caller's autograd and autocast modes, which torch keeps per thread."""
    grad, inference, autocast = modes
    with ExitStack() as stack:
        stack.enter_context(torch.inference_mode(inference))
        stack.enter_context(torch.set_grad_enabled(grad))
        stack.enter_context(torch.autocast("cpu", dtype=autocast or torch.bfloat16, enabled=autocast is not None))
        return run(part)


def native_bf16(device: torch.device) -> bool:
    """Whether `device` multiplies bfloat16 matrices natively (and so faster than float32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return any(flag in cpu_flags() for flag in BF16_CPU_FLAGS)
    return False


def resolve_dtype(dtype: str | torch.dtype | None, device: str | torch.device = "cpu") -> torch.dtype:
    """`auto` (or None): bfloat16 where the device runs it natively, else float32."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is None or dtype == "auto":
        return torch.bfloat16 if native_bf16(resolve_device(device)) else torch.float32
    if dtype not in DTYPES:
        raise TrmsolveError(f"unknown dtype {dtype!r} (use auto, float32 or bfloat16)")
    return DTYPES[dtype]


def set_threads(threads: int | None) -> None:
    """Use `threads` CPU threads for the model's arithmetic (None: torch's default, one per core)."""
    if threads:
        torch.set_num_threads(threads)


def describe(device: str = "auto") -> dict[str, Any]:
    """What `trmsolve version --json` reports about the machine, and what `auto` picks on it."""
    resolved = resolve_device(device)
    return {
        "device": str(resolved),
        "devices": available_devices(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "l2_cache_bytes": l2_cache_bytes(),  # sets the puzzles a pass on a CPU, and so the float rounding
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(resolved),
        "auto_dtype": str(resolve_dtype("auto", resolved)).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
