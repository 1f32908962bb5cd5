"""Training: the published TRM/HRM recipe, on a CPU or GPUs, resumable, data parallel under torchrun.

The recipe (TRM paper, section 4 and the published `pretrain.py`):
- deep supervision: a batch of B slots, each holding one puzzle and its carry (z_H, z_L). Every optimiser
  step runs one ACT step for all slots and backpropagates through that step only; the carry is kept for
  the next optimiser step. A slot whose puzzle halted is refilled with a new puzzle and a fresh carry.
- ACT: a puzzle halts at q_halt > 0 (or q_halt > q_continue) or after halt_max_steps; with probability
  halt_exploration_prob it must first run a random 2..halt_max_steps steps.
- loss per step: stablemax (or softmax) cross-entropy averaged over each puzzle's label positions,
  summed over the batch, plus 0.5 x BCE(q_halt, puzzle exactly right) (and the continue target's BCE
  when no_ACT_continue is false), divided by the batch size.
- AdamW (0.9, 0.95) with linear warmup and cosine decay; sign-SGD for puzzle embeddings; an EMA of the
  weights is what gets evaluated and exported.
With dtype bfloat16 (what `auto` picks on hardware with native bf16 matmuls) autocast runs the matmuls in
bfloat16; master weights stay float32. A run can start from a trained model's weights (`init`) with a fresh
optimiser and schedule: that is how training continues on another machine from the shipped weights.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import platform
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from trmsolve.checkpoint import TASK_ENCODINGS, save_model
from trmsolve.config import TASK_SHAPES, CheckpointInfo, ModelConfig
from trmsolve.errors import TrmsolveError
from trmsolve.evaluation import IGNORE_LABEL, MODES, evaluate, selection_score, tier_names
from trmsolve.hardware import Compiled, resolve_dtype
from trmsolve.inference import compile_steps
from trmsolve.network import Carry, RecursiveReasoningModel, StepOutput, build_model

# The published sign-SGD rate of the puzzle embeddings: ARC has one embedding per task, each seen rarely; Sudoku and
# Maze share one, seen in every batch, and publish the network's own rate for it. At 1e-2 the maze model's one
# prefix token moved a quarter of its size in 116 steps while the network moved 0.1% (weights/maze/README.md).
PUZZLE_EMB_LR = {"arc": 1e-2, "sudoku": 1e-4, "maze": 1e-4}


@dataclass
class TrainConfig:
    """Everything that defines a run; stored in the run directory so `--resume` needs nothing else."""

    task: str
    data: str  # training CSV (sudoku, maze) or builder output directory (arc)
    out: str  # run directory: checkpoint.pt, log.jsonl, export/
    eval_data: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = 64
    lr: float = 1e-4
    lr_warmup_steps: int = 2000
    lr_min_ratio: float = 0.1
    total_steps: int = 100_000  # sets the cosine schedule; stop earlier with max_minutes
    weight_decay: float = 1.0
    betas: tuple[float, float] = (0.9, 0.95)
    puzzle_emb_lr: float | None = None  # None: the task's published rate (`PUZZLE_EMB_LR`)
    puzzle_emb_weight_decay: float = 0.1
    ema_rate: float = 0.999
    loss: str = "stablemax"  # or "softmax"
    question_weight: float = 1.0  # loss weight of the cells the input leaves open (1 = published)
    answer_weight: float = 1.0  # loss weight of the cells whose answer differs from the input (1 = published)
    # ACT steps before this one run without a token loss and without halting (1 = every step, as published): on a
    # long maze the early steps cannot know the path, and a loss there teaches the rule to hedge.
    supervise_from: int = 1
    augment: bool = True
    dtype: str = "auto"  # of the matmuls: auto, float32, bfloat16 (autocast)
    init: str | None = None  # start from this model's weights (a bundled name or directory), fresh optimiser
    # With `init`: model fields that replace the initial model's. Only those no weight depends on.
    init_overrides: dict[str, int | bool] = field(default_factory=dict)
    seed: int = 0
    max_minutes: float | None = None
    checkpoint_minutes: float = 5.0
    eval_minutes: float = 15.0
    eval_size: int = 1000
    threads: int | None = None
    # torch.compile the network (inductor, a C++ compiler): a 21x21 maze step 1.47x faster in bfloat16 and 1.15x
    # in float32 (benchmarks/bench_train_step.py), after up to a few minutes of compiling. A session setting.
    compile: bool = False

    def __post_init__(self) -> None:
        if self.puzzle_emb_lr is None:  # an unknown task fails where its data is read (`load_data`)
            self.puzzle_emb_lr = PUZZLE_EMB_LR.get(self.task, PUZZLE_EMB_LR["arc"])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        data = dict(data)
        if "bf16" in data:  # runs written before `dtype`
            data["dtype"] = "bfloat16" if data.pop("bf16") else "float32"
        data["model"] = ModelConfig.from_dict(data["model"])
        data["betas"] = tuple(data["betas"])
        return cls(**data)


# ------------------------------------------------------------------------------------------------- data


@dataclass
class TrainData:
    """Token arrays of one split plus the task's augmentation (a function of a batch and an RNG)."""

    inputs: np.ndarray  # [N, seq_len]
    labels: np.ndarray  # [N, seq_len], IGNORE_LABEL where there is nothing to predict
    puzzle_identifiers: np.ndarray  # [N]
    ratings: np.ndarray  # [N]
    augment: Callable[[np.ndarray, np.ndarray, np.random.Generator], tuple[np.ndarray, np.ndarray]] | None = None
    identifiers: list[str] | None = None  # ARC: identifier names, index = id
    symmetries: tuple[str, ...] = ()  # the transform families `augment` draws from (recorded in the model)
    question_token: int | None = None  # input token of the cells the answer decides (None: every cell)

    def __len__(self) -> int:
        return len(self.inputs)


def load_data(task: str, path: str) -> TrainData:
    """Read a split: the published CSV layout for Sudoku and Maze, the ARC builder's arrays for ARC."""
    if task in ("sudoku", "maze"):
        import importlib

        module = importlib.import_module(f"trmsolve.data.{task}")
        inputs, labels, ratings = module.load_tokens(path)
        ids = np.zeros(len(inputs), dtype=np.int64)
        return TrainData(
            inputs,
            labels,
            ids,
            ratings,
            module.augment,
            symmetries=module.SYMMETRIES,
            question_token=module.QUESTION_TOKEN,
        )
    if task == "arc":
        root = Path(path)
        arrays = {
            k: np.load(root / f"all__{k}.npy") for k in ("inputs", "labels", "puzzle_identifiers", "puzzle_indices")
        }
        # One row per example; its puzzle's identifier comes from puzzle_indices (example ranges per puzzle).
        counts = np.diff(arrays["puzzle_indices"])
        ids = np.repeat(arrays["puzzle_identifiers"], counts)
        labels = arrays["labels"].astype(np.int64)
        labels[labels == 0] = IGNORE_LABEL  # PAD is not predicted, as published (ignore_label_id 0)
        names_file = root.parent / "identifiers.json"
        names = json.loads(names_file.read_text()) if names_file.exists() else None
        return TrainData(arrays["inputs"].astype(np.int64), labels, ids, np.zeros(len(ids), np.int64), None, names)
    raise TrmsolveError(f"unknown task {task!r} (known: sudoku, maze, arc)")


class BatchSampler:
    """Endless shuffled epochs over a data shard, augmented on the fly; its state resumes exactly."""

    def __init__(self, data: TrainData, batch_size: int, seed: int, augment: bool, rank: int = 0, world: int = 1):
        self.data, self.batch_size, self.augment = data, batch_size, augment and data.augment is not None
        self.rng = np.random.default_rng([seed, rank])
        self.shard = np.arange(rank, len(data), world)
        self.order = self.rng.permutation(self.shard)
        self.cursor = 0
        self.epoch = 0

    def next(self) -> dict[str, torch.Tensor]:
        take, count = [], 0
        while count < self.batch_size:
            if self.cursor >= len(self.order):
                self.order, self.cursor, self.epoch = self.rng.permutation(self.shard), 0, self.epoch + 1
            n = min(self.batch_size - count, len(self.order) - self.cursor)
            take.append(self.order[self.cursor : self.cursor + n])
            self.cursor, count = self.cursor + n, count + n
        index = np.concatenate(take)
        inputs, labels = self.data.inputs[index], self.data.labels[index]
        if self.augment:
            inputs, labels = self.data.augment(inputs, labels, self.rng)
        return {
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs)).long(),
            "labels": torch.from_numpy(np.ascontiguousarray(labels)).long(),
            "puzzle_identifiers": torch.from_numpy(self.data.puzzle_identifiers[index]).long(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "order": torch.from_numpy(self.order),
            "cursor": self.cursor,
            "epoch": self.epoch,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume mid-epoch; a run resumed on other data (a curriculum's next stage) starts a fresh epoch."""
        self.rng.bit_generator.state = state["rng"]
        order = state["order"].numpy()
        if np.array_equal(np.sort(order), self.shard):
            self.order, self.cursor, self.epoch = order, state["cursor"], state["epoch"]
        else:
            self.order, self.cursor, self.epoch = self.rng.permutation(self.shard), 0, state["epoch"] + 1


# ------------------------------------------------------------------------------------------------- loss


def log_stablemax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """log of stablemax: s(x) = 1/(1-x) for x < 0, x + 1 otherwise, normalised (float64, as published)."""
    s = torch.where(x < 0, 1 / (1 - x + 1e-30), x + 1)
    return torch.log(s / s.sum(dim=dim, keepdim=True))


def token_losses(logits: torch.Tensor, labels: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-position cross-entropy [B, seq]; 0 where the label is ignored."""
    valid = labels != IGNORE_LABEL
    safe = torch.where(valid, labels, 0)
    if kind == "stablemax":
        logprobs = log_stablemax(logits.double())
        loss = -logprobs.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    else:
        loss = F.cross_entropy(logits.float().transpose(1, 2), safe, reduction="none")
    return torch.where(valid, loss, 0).float()


# ------------------------------------------------------------------------------------------ the training state


@dataclass
class Slots:
    """The B training slots: each slot's puzzle, carry, ACT step count and halted flag."""

    batch: dict[str, torch.Tensor]
    carry: Carry
    steps: torch.Tensor
    halted: torch.Tensor

    def state_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "z_H": self.carry.z_H,
            "z_L": self.carry.z_L,
            "steps": self.steps,
            "halted": self.halted,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Slots:
        return cls(state["batch"], Carry(state["z_H"], state["z_L"]), state["steps"], state["halted"])


class SignSGD:
    """Sign-SGD with decoupled weight decay on the rows of the puzzle embedding that got a gradient.

    Adam on rarely-seen rows is close to sign-SGD; the published code uses this for puzzle embeddings.
    """

    def __init__(self, weights: torch.nn.Parameter, lr: float, weight_decay: float) -> None:
        self.weights, self.lr, self.weight_decay = weights, lr, weight_decay

    @torch.no_grad()
    def step(self, lr_scale: float) -> None:
        grad = self.weights.grad
        if grad is None:
            return
        rows = grad.abs().sum(-1).nonzero().squeeze(-1)
        lr = self.lr * lr_scale
        w = self.weights[rows]
        w.mul_(1.0 - lr * self.weight_decay).add_(grad[rows].sign(), alpha=-lr)
        self.weights[rows] = w
        self.weights.grad = None


def lr_scale(step: int, config: TrainConfig) -> float:
    """Linear warmup, then cosine decay to lr_min_ratio at total_steps."""
    if step < config.lr_warmup_steps:
        return (step + 1) / config.lr_warmup_steps
    progress = min(1.0, (step - config.lr_warmup_steps) / max(1, config.total_steps - config.lr_warmup_steps))
    return config.lr_min_ratio + (1 - config.lr_min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Trainer:
    """Owns the model, optimisers, EMA, data sampler and slots; `run()` trains until the time budget."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config, self.log = config, log
        self.trained_with = config  # the settings the weights were trained with: what an export records
        self.rank, self.world = 0, 1
        if dist.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
            if not dist.is_initialized():
                dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
            self.rank, self.world = dist.get_rank(), dist.get_world_size()
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = torch.device(
            f"cuda:{self.rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu"
        )
        torch.manual_seed(config.seed)  # same initial weights on every rank
        random.seed(config.seed + self.rank)

        self.data = load_data(config.task, config.data)
        self.eval_data = load_data(config.task, config.eval_data) if config.eval_data else None
        if config.question_weight != 1.0 and self.data.question_token is None:  # e.g. ARC: every cell is asked
            raise TrmsolveError(f"--question-weight needs inputs that mark the cells asked about, not {config.task}'s")
        if self.data.identifiers is not None:  # ARC: one puzzle embedding per identifier of the data set
            config.model = dataclasses.replace(config.model, num_puzzle_identifiers=len(self.data.identifiers))
        initial = load_initial_weights(config)
        model_config = config.model
        try:  # what loading the exported model would refuse, refused before training it
            model_config.check()
        except ValueError as error:
            raise TrmsolveError(f"model: {error}") from None
        if config.supervise_from > model_config.halt_max_steps:
            raise TrmsolveError(
                f"--supervise-from {config.supervise_from} is past the last of {model_config.halt_max_steps} ACT steps"
            )
        encoding = dict(TASK_ENCODINGS.get(config.task, {}))
        if config.augment and self.data.symmetries:  # what verified solving may use for its retries
            encoding["symmetries"] = list(self.data.symmetries)
        info = CheckpointInfo(task=config.task, default_steps=model_config.halt_max_steps, encoding=encoding)
        self.model = build_model(model_config, info).to(self.device)
        if initial is not None:
            self.model.load_state_dict(initial)
        self.model.identifiers = self.data.identifiers
        self.autocast_dtype = resolve_dtype(config.dtype, self.device)
        # A canvas crop: every training example runs on the same top-left square, the one holding them all.
        self.positions = self.model.canvas_positions(torch.from_numpy(self.data.inputs))
        if self.positions is not None:
            cells = self.positions.numpy()
            self.data = dataclasses.replace(
                self.data, inputs=self.data.inputs[:, cells], labels=self.data.labels[:, cells]
            )
            self.positions = self.positions.to(self.device)
        net: torch.nn.Module = self.model
        if self.world > 1:
            net = torch.nn.parallel.DistributedDataParallel(self.model)
        self.forward_step: Callable[..., StepOutput] = Compiled(net) if config.compile else net
        self.ema = copy.deepcopy(self.model).eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)
        if config.compile:  # the held-out evaluations' steps too (each as long as several training steps)
            compile_steps(self.ema)

        emb = getattr(self.model, "puzzle_emb", None)
        dense = [p for n, p in self.model.named_parameters() if not n.startswith("puzzle_emb.")]
        self.optimizer = torch.optim.AdamW(dense, lr=config.lr, betas=config.betas, weight_decay=config.weight_decay)
        self.sparse = SignSGD(emb.weights, config.puzzle_emb_lr, config.puzzle_emb_weight_decay) if emb else None
        self.sampler = BatchSampler(self.data, config.batch_size, config.seed, config.augment, self.rank, self.world)
        self.step = 0
        self.samples = 0  # puzzles started, all ranks
        self.elapsed = 0.0  # training seconds over all sessions
        self.best: dict[str, Any] | None = None  # the best held-out evaluation so far: step, score, result
        self.slots: Slots | None = None
        self.out = Path(config.out)
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + self.rank)  # ACT exploration

    # -------------------------------------------------------------------------------------- persistence

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "sampler": self.sampler.state_dict(),
            "slots": self.slots.state_dict() if self.slots else None,
            "step": self.step,
            "samples": self.samples,
            "elapsed": self.elapsed,
            "best": self.best,
            "torch_rng": torch.get_rng_state(),
            "act_rng": self.gen.get_state(),
            "python_rng": list(random.getstate()[1]),
        }

    def save(self) -> Path:
        """Write checkpoint.pt atomically (rank 0; other ranks hold the same weights)."""
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / ("checkpoint.pt" if self.rank == 0 else f"checkpoint.rank{self.rank}.pt")
        tmp = path.with_suffix(".tmp")
        torch.save(self.state_dict(), tmp)
        tmp.replace(path)
        return path

    def load(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.sampler.load_state_dict(state["sampler"])
        self.slots = Slots.from_state(state["slots"]) if state["slots"] else None
        self.step, self.samples, self.elapsed = state["step"], state["samples"], state["elapsed"]
        self.best = state.get("best")
        torch.set_rng_state(state["torch_rng"].cpu())
        self.gen.set_state(state["act_rng"].cpu())
        random.setstate((3, tuple(state["python_rng"]), None))

    # ------------------------------------------------------------------------------------------ training

    def _refill(self, fresh: dict[str, torch.Tensor]) -> Slots:
        """Put fresh puzzles into halted slots and reset their carry, as the published ACT wrapper does."""
        if self.slots is None:
            carry = self.model.initial_carry(len(fresh["inputs"]), self.positions)
            halted = torch.ones(len(fresh["inputs"]), dtype=torch.bool, device=self.device)
            return Slots(fresh, carry, torch.zeros_like(halted, dtype=torch.long), halted)
        s = self.slots
        h = s.halted
        batch = {k: torch.where(h.view(-1, *([1] * (v.ndim - 1))), fresh[k], v) for k, v in s.batch.items()}
        init = self.model.initial_carry(len(h), self.positions)
        carry = Carry(
            torch.where(h.view(-1, 1, 1), init.z_H, s.carry.z_H), torch.where(h.view(-1, 1, 1), init.z_L, s.carry.z_L)
        )
        return Slots(batch, carry, torch.where(h, 0, s.steps), h)

    def train_step(self) -> dict[str, float]:
        config, model = self.config, self.model
        model.train()
        fresh = {k: v.to(self.device) for k, v in self.sampler.next().items()}
        slots = self._refill(fresh)
        self.samples += int(slots.halted.sum()) * self.world
        batch = slots.batch
        bf16 = self.autocast_dtype == torch.bfloat16
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16)
        with autocast:
            out = self.forward_step(slots.carry, batch["inputs"], batch["puzzle_identifiers"], self.positions)
        logits, q_halt, q_continue = out.logits, out.q_halt_logits, out.q_continue_logits
        labels = batch["labels"]
        valid = labels != IGNORE_LABEL
        counts = valid.sum(-1)
        with torch.no_grad():
            correct = (logits.argmax(-1) == labels) & valid
            exact = correct.sum(-1) == counts
        steps = slots.steps + 1
        supervised = steps >= config.supervise_from  # [B]
        weights = self.loss_weights(batch["inputs"], labels, valid) * supervised[:, None]
        lm_loss = (
            token_losses(logits, labels, config.loss) * weights / weights.sum(-1, keepdim=True).clamp_min(1e-9)
        ).sum()
        q_loss = F.binary_cross_entropy_with_logits(q_halt, exact.float(), reduction="sum")

        with torch.no_grad():
            last = steps >= model.config.halt_max_steps
            halted = last | model.halts(q_halt, q_continue)
            explore = torch.rand(len(steps), generator=self.gen) < model.config.halt_exploration_prob
            min_steps = explore.to(self.device) * torch.randint(
                2, model.config.halt_max_steps + 1, (len(steps),), generator=self.gen
            ).to(self.device)
            halted = halted & (steps >= min_steps) & supervised  # the last step is supervised (checked)
        if not model.config.no_ACT_continue:
            with torch.no_grad(), autocast:  # the continue target: the next step's best Q, as published
                nxt = model(
                    Carry(out.carry.z_H.detach(), out.carry.z_L.detach()),
                    batch["inputs"],
                    batch["puzzle_identifiers"],
                    self.positions,
                )
                target = torch.sigmoid(
                    torch.where(last, nxt.q_halt_logits, torch.maximum(nxt.q_halt_logits, nxt.q_continue_logits))
                )
            q_loss = q_loss + F.binary_cross_entropy_with_logits(q_continue, target, reduction="sum")
        # DDP averages gradients over ranks, so this equals the published sum over the global batch / its size.
        loss = (lm_loss + 0.5 * q_loss) / config.batch_size

        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        scale = lr_scale(self.step, config)
        for group in self.optimizer.param_groups:
            group["lr"] = config.lr * scale
        self.optimizer.step()
        if self.sparse:
            self.sparse.step(scale)
        self._update_ema()
        self.slots = Slots(batch, Carry(out.carry.z_H.detach(), out.carry.z_L.detach()), steps, halted)
        self.step += 1
        return {
            "loss": loss.item(),
            "lm_loss": lm_loss.item() / len(steps),
            "token_acc": float(correct.sum() / counts.sum().clamp_min(1)),
            "exact_acc": float(exact.float().mean()),
            "q_acc": float(((q_halt > 0) == exact).float().mean()),
            "halted_steps": float(steps[halted].float().mean()) if bool(halted.any()) else float("nan"),
            "lr": config.lr * scale,
        }

    def loss_weights(self, inputs: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """[B, seq] weight of each position in its puzzle's mean loss: `question_weight` on the cells the
        input leaves open, against a small model settling on copying the input, which most cells reward (tried
        on the maze model at 4x: no change in 1,013 steps; weights/maze/README.md); `answer_weight` (times
        that) on the cells the answer changes, a maze's path: a model that draws fewer path cells than the
        answer has then pays for each missing one more than for the open cells it rightly leaves alone."""
        weights = valid.float()
        if self.config.question_weight != 1.0:
            weights = torch.where(inputs == self.data.question_token, self.config.question_weight, 1.0) * weights
        if self.config.answer_weight != 1.0:
            weights = torch.where(labels != inputs, self.config.answer_weight, 1.0) * weights
        return weights

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up: early on the average follows the weights closely, so a short run's EMA is not mostly
        # its random initialisation (0.999 alone keeps 37% of it after 1,000 steps).
        rate = min(self.config.ema_rate, (1 + self.step) / (10 + self.step))
        for e, p in zip(self.ema.parameters(), self.model.parameters(), strict=True):
            e.lerp_(p, 1 - rate)

    # ---------------------------------------------------------------------------------------- evaluation

    @property
    def eval_count(self) -> int:
        """How many held-out puzzles an evaluation runs: the first `eval_size` of the split."""
        return min(self.config.eval_size, len(self.eval_data)) if self.eval_data is not None else 0

    @torch.no_grad()
    def evaluate(self, model: RecursiveReasoningModel | None = None, modes: tuple[str, ...] = MODES) -> dict[str, Any]:
        """Exact accuracy of `model` (default: the EMA) on the held-out split, with and without halting, by tier."""
        if self.eval_data is None:
            return {}
        data, n = self.eval_data, self.eval_count
        return evaluate(
            model or self.ema,
            data.inputs[:n],
            data.labels[:n],
            data.puzzle_identifiers[:n],
            tiers=tier_names(self.config.task, data.inputs[:n], data.ratings[:n]),
            modes=modes,
        )

    # ---------------------------------------------------------------------------------------------- loop

    def run(self) -> None:
        config = self.config
        start = time.monotonic()
        base_elapsed = self.elapsed
        last_ckpt = last_eval = last_log = time.monotonic()
        window: list[dict[str, float]] = []
        samples_at_log = self.samples
        self.log(
            f"training {config.task}: {self.model.num_parameters():,} parameters, batch {config.batch_size} x "
            f"{self.world} ranks, step {self.step}, {self.elapsed / 60:.1f} min so far"
        )
        while True:
            metrics = self.train_step()
            window.append(metrics)
            now = time.monotonic()
            self.elapsed = base_elapsed + (now - start)
            done = self.step >= config.total_steps or (
                config.max_minutes is not None and now - start >= config.max_minutes * 60
            )
            if now - last_log >= 30 or done:
                mean = {k: mean_of([m[k] for m in window]) for k in window[0]}
                seconds = now - last_log
                rate = (self.samples - samples_at_log) / seconds
                slot_rate = len(window) * config.batch_size * self.world / seconds  # puzzle-steps trained per s
                record = {
                    "step": self.step,
                    "samples": self.samples,
                    "minutes": round(self.elapsed / 60, 2),
                    "puzzles_per_s": round(rate, 1),
                    "slot_steps_per_s": round(slot_rate, 1),
                    **{k: round(v, 5) for k, v in mean.items()},
                }
                self._write_log(record)
                self.log(" ".join(f"{k}={v}" for k, v in record.items()))
                window, last_log, samples_at_log = [], now, self.samples
            if now - last_eval >= config.eval_minutes * 60 or done:
                result = self.evaluate()
                if result:
                    self._write_log({"step": self.step, "minutes": round(self.elapsed / 60, 2), "eval": result})
                    self.log(f"eval step {self.step}: {json.dumps(result)}")
                    self._keep_if_best(result)
                last_eval = time.monotonic()
            if now - last_ckpt >= config.checkpoint_minutes * 60 or done:
                self.save()
                last_ckpt = time.monotonic()
            if done:
                return

    def _keep_if_best(self, result: dict[str, Any]) -> None:
        """Write the EMA to `out/best` when it scores higher on the held-out split than at every earlier
        evaluation (`selection_score`): small recurrent models can fall apart after their peak
        (weights/maze/README.md), and the peak is the model worth keeping."""
        score = selection_score(result)
        if self.best is not None and score <= self.best["score"]:
            return
        self.best = {"step": self.step, "minutes": round(self.elapsed / 60, 2), "score": score, "eval": result}
        if self.rank == 0:
            selection = {"weights": "ema", "selected_on": self.config.eval_data, "best_of_evaluations": self.best}
            self._write_model(self.ema, self.out / "best", selection)
            self.log(f"best so far (step {self.step}): {self.out / 'best'}")

    def _write_log(self, record: dict[str, Any]) -> None:
        if self.rank == 0:
            self.out.mkdir(parents=True, exist_ok=True)
            with open(self.out / "log.jsonl", "a") as f:
                f.write(json.dumps(record) + "\n")

    def export(self, out_dir: str | Path, provenance: dict[str, Any] | None = None) -> Path:
        """Write the model in our format, with how it was trained.

        The EMA weights are what the recipe evaluates; a short run's EMA can still lag the weights, so with a
        held-out split both are evaluated there and the better one is written (the choice is recorded).
        """
        chosen, selection = self.ema, {"weights": "ema"}
        if self.eval_data is not None:
            self.model.eval()
            self.log(
                f"choosing the weights to export: evaluating the EMA and the raw weights on {self.eval_count} held-out "
                "puzzles"
            )
            scores = {
                name: selection_score(self.evaluate(net, modes=("all_steps",)))
                for name, net in (("ema", self.ema), ("raw", self.model))
            }
            if scores["raw"] > scores["ema"]:
                chosen = copy.deepcopy(self.model).eval()
            selection = {
                "weights": "ema" if chosen is self.ema else "raw",
                "selected_on": self.config.eval_data,
                "selection_scores": scores,  # selection_score: reached, then exact
            }
        return self._write_model(chosen, out_dir, {**selection, **(provenance or {})})

    def _write_model(self, chosen: RecursiveReasoningModel, out_dir: str | Path, selection: dict[str, Any]) -> Path:
        """Save `chosen` as a model directory whose provenance says how the run was trained and which weights."""
        chosen.info.provenance = {
            "trained_with": "trmsolve train",
            "train_config": {k: v for k, v in self.trained_with.to_dict().items() if k not in ("out",)},
            "steps": self.step,
            "samples": self.samples,
            "train_minutes": round(self.elapsed / 60, 1),
            "hardware": f"{platform.machine()} CPU, {self.trained_with.threads or torch.get_num_threads()} threads"
            f" x {self.world} processes"
            if self.device.type == "cpu"
            else f"{torch.cuda.get_device_name(self.device)} x {self.world}",
            "torch": torch.__version__,
            **selection,
        }
        chosen.identifiers = self.model.identifiers
        return save_model(chosen, out_dir)


def mean_of(values: list[float]) -> float:
    """Mean of the finite values (a log window may have no halted puzzle at all)."""
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else float("nan")


# Model fields a run may change from its initial model's: no weight's shape or meaning depends on them.
WEIGHT_FREE_FIELDS = ("H_cycles", "L_cycles", "halt_max_steps", "canvas_crop", "position_free_prefix")


def load_initial_weights(config: TrainConfig) -> dict[str, torch.Tensor] | None:
    """The state dict of `config.init`, whose architecture replaces `config.model` (data sizes must agree; a
    canvas crop and the `init_overrides` asked for are kept)."""
    if not config.init:
        return None
    from trmsolve.models import load_model

    model = load_model(config.init, dtype="float32", task=config.task)
    if model.info.task not in (None, config.task):
        raise TrmsolveError(f"{config.init}: a {model.info.task} model cannot start a {config.task} run")
    if model.config.num_puzzle_identifiers != config.model.num_puzzle_identifiers:
        raise TrmsolveError(
            f"{config.init}: has {model.config.num_puzzle_identifiers} puzzle identifiers, "
            f"the data {config.model.num_puzzle_identifiers}"
        )
    # The canvas crop changes no weight: a run may start a model on smaller (or larger) mazes than it last saw;
    # nor does the recursion: the same network may be trained to take fewer cycles a step and more steps.
    unknown = set(config.init_overrides) - set(WEIGHT_FREE_FIELDS)
    if unknown:
        raise TrmsolveError(f"{config.init}: {', '.join(sorted(unknown))} cannot change from the initial model")
    crop = config.model.canvas_crop or model.config.canvas_crop  # runs recorded before the crop was an override
    config.model = replace(model.config, **{"canvas_crop": crop, **config.init_overrides})
    return model.state_dict()


def default_model_config(task: str, **overrides: Any) -> ModelConfig:
    """A CPU-sized TRM for the task; the published 512-wide models are much slower to train here."""
    seq_len, vocab = TASK_SHAPES[task]
    base: dict[str, Any] = {
        "arch": "trm",
        "seq_len": seq_len,
        "vocab_size": vocab,
        "hidden_size": 256,
        "num_heads": 4,
        "H_cycles": 3,
        "L_cycles": 6,
        "L_layers": 2,
        "halt_max_steps": 16,
    }
    if task == "sudoku":
        base.update(mlp_t=True, pos_encodings="none")
    else:
        base.update(pos_encodings="rope", L_cycles=4)
    base.update(overrides)
    return ModelConfig(**base)


# On resume, where the data lives and how long and on how many threads to go this session always come from
# the caller (the data is regenerated by seed on a new machine); these run settings only when it changes them.
SESSION_FIELDS = ("data", "eval_data", "out", "max_minutes", "threads", "compile")
ADJUSTABLE_FIELDS = ("total_steps", "dtype", "eval_size", "eval_minutes", "checkpoint_minutes")


def train(
    config: TrainConfig,
    *,
    resume: bool = True,
    changed: Collection[str] = ADJUSTABLE_FIELDS,
    log: Callable[[str], None] = print,
) -> Trainer:
    """Train (or continue training) the run in `config.out` until its time or step budget.

    A resumed run keeps its saved settings (architecture, optimiser, schedule, seed) except the session fields
    and the `changed` ones: the CLI passes only the options a user typed, so resuming without `--total-steps`
    keeps the run's learning-rate schedule instead of the option's default.
    """
    out = Path(config.out)
    ckpt = out / "checkpoint.pt"
    resumed = resume and ckpt.exists()
    if resumed:
        saved = torch.load(ckpt, map_location="cpu", weights_only=True)["config"]
        keep = {k: getattr(config, k) for k in (*SESSION_FIELDS, *(f for f in ADJUSTABLE_FIELDS if f in changed))}
        config = TrainConfig.from_dict({**saved, **keep})
    trainer = Trainer(config, log=log)
    if resumed:
        trainer.load(ckpt)
        log(f"resumed {ckpt} at step {trainer.step}")
    if config.max_minutes != 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / "train_config.json").write_text(json.dumps(config.to_dict(), indent=2))
        trainer.run()
    elif resumed:  # only loaded (e.g. to export): the run's record and settings stay its own
        trainer.trained_with = TrainConfig.from_dict(saved)
    return trainer
