"""The trainer: deep supervision over B slots with the carry kept across optimiser steps, the ACT loss, AdamW
and sign-SGD, the EMA, held-out evaluations that keep the best EMA, checkpoints that resume exactly, export."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import platform
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from trmsolve.checkpoint import save_model
from trmsolve.config import CheckpointInfo
from trmsolve.errors import TrmsolveError
from trmsolve.evaluation import MODES, evaluate, selection_score, tier_names
from trmsolve.hardware import Compiled, resolve_dtype
from trmsolve.inference import compile_steps
from trmsolve.kinds import KINDS, get_kind
from trmsolve.loss import IGNORE_LABEL, act_loss
from trmsolve.network import Carry, RecursiveReasoningModel, StepOutput, build_model
from trmsolve.optim import SignSGD
from trmsolve.train.config import WEIGHT_FREE_FIELDS, TrainConfig, lr_scale
from trmsolve.train.data import BatchSampler, load_data


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


def join_process_group(threads: int | None) -> tuple[int, int, torch.device]:
    """This process's rank, the world size and its device: under torchrun (WORLD_SIZE > 1) the process group is
    joined (NCCL on GPUs, gloo on CPUs) and rank r takes GPU r modulo the GPUs there are."""
    rank, world = 0, 1
    if dist.is_available() and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    if threads:
        torch.set_num_threads(threads)
    device = torch.device(f"cuda:{rank % torch.cuda.device_count()}" if torch.cuda.is_available() else "cpu")
    return rank, world, device


class Trainer:
    """Owns the model, optimisers, EMA, data sampler and slots; `run()` trains until the time budget."""

    def __init__(self, config: TrainConfig, log: Callable[[str], None] = print) -> None:
        self.config, self.log = config, log
        self.trained_with = config  # the settings the weights were trained with: what an export records
        self.rank, self.world, self.device = join_process_group(config.threads)
        torch.manual_seed(config.seed)  # same initial weights on every rank
        random.seed(config.seed + self.rank)
        self.data = load_data(config.task, config.data)
        self.eval_data = load_data(config.task, config.eval_data) if config.eval_data else None
        self.model = self._build_model()
        self.autocast_dtype = resolve_dtype(config.dtype, self.device)
        self.positions = self._crop_to_canvas()
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

    def _build_model(self) -> RecursiveReasoningModel:
        """The network the run trains: `config.model`, or the initial model's weights and architecture (`init`),
        checked as loading the exported model would check it, before any training."""
        config = self.config
        if config.question_weight != 1.0 and self.data.question_token is None:  # e.g. ARC: every cell is asked
            raise TrmsolveError(f"--question-weight needs inputs that mark the cells asked about, not {config.task}'s")
        if self.data.identifiers is not None:  # ARC: one puzzle embedding per identifier of the data set
            config.model = dataclasses.replace(config.model, num_puzzle_identifiers=len(self.data.identifiers))
        initial = load_initial_weights(config)
        model_config = config.model
        try:
            model_config.check()
        except ValueError as error:
            raise TrmsolveError(f"model: {error}") from None
        if config.supervise_from > model_config.halt_max_steps:
            raise TrmsolveError(
                f"--supervise-from {config.supervise_from} is past the last of {model_config.halt_max_steps} ACT steps"
            )
        encoding = get_kind(config.task).encoding if config.task in KINDS else {}
        if config.augment and self.data.symmetries:  # what verified solving may use for its retries
            encoding["symmetries"] = list(self.data.symmetries)
        info = CheckpointInfo(task=config.task, default_steps=model_config.halt_max_steps, encoding=encoding)
        model = build_model(model_config, info).to(self.device)
        if initial is not None:
            model.load_state_dict(initial)
        model.identifiers = self.data.identifiers
        return model

    def _crop_to_canvas(self) -> torch.Tensor | None:
        """With a canvas crop, every training example runs on the same top-left square, the one holding them all:
        the data keeps just those cells. Returns their positions (None: the whole sequence)."""
        positions = self.model.canvas_positions(torch.from_numpy(self.data.inputs))
        if positions is None:
            return None
        cells = positions.numpy()
        self.data = dataclasses.replace(self.data, inputs=self.data.inputs[:, cells], labels=self.data.labels[:, cells])
        return positions.to(self.device)

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
        steps = slots.steps + 1
        supervised = steps >= config.supervise_from  # [B]
        weights = self.loss_weights(batch["inputs"], labels, labels != IGNORE_LABEL) * supervised[:, None]
        terms = act_loss(logits, q_halt, labels, weights, config.loss)
        correct, exact = terms.correct, terms.exact

        with torch.no_grad():
            last = steps >= model.config.halt_max_steps
            halted = last | model.halts(q_halt, q_continue)
            explore = torch.rand(len(steps), generator=self.gen) < model.config.halt_exploration_prob
            min_steps = explore.to(self.device) * torch.randint(
                2, model.config.halt_max_steps + 1, (len(steps),), generator=self.gen
            ).to(self.device)
            halted = halted & (steps >= min_steps) & supervised  # the last step is supervised (checked)
        q_continue_loss = torch.zeros(())
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
            q_continue_loss = F.binary_cross_entropy_with_logits(q_continue, target, reduction="sum")
        # DDP averages gradients over ranks, so this equals the published sum over the global batch / its size.
        loss = terms.total(config.batch_size, q_continue_loss)

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
            "lm_loss": terms.lm.item() / len(steps),
            "token_acc": float(correct.sum() / (labels != IGNORE_LABEL).sum().clamp_min(1)),
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
