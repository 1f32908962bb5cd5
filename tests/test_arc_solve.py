"""ARC end to end: the published vote, inverse augmentation through real model runs, pass@K, submissions,
identifier maps rebuilt like the builder's, adaptation with a frozen network, and the commands."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import EXAMPLES_DIR as EXAMPLES
from conftest import REFERENCE
from rich.console import Console
from typer.testing import CliRunner

from trmsolve.arc.adapt import adapt, nearest_rows, use_bf16
from trmsolve.arc.builder import build_arc_dataset
from trmsolve.arc.identifiers import PUBLISHED_MAPS, MapSettings, attach_identifier_map, identifier_map, map_path
from trmsolve.arc.predict import ArcAnswer, Candidate, predict, vote
from trmsolve.arc.score import score, submission, write_submission
from trmsolve.arc.views import spread, task_views
from trmsolve.checkpoint import load_published, save_model
from trmsolve.cli import app
from trmsolve.config import CheckpointInfo, ModelConfig
from trmsolve.errors import TrmsolveError
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.kinds.arc_grids import Augmentation, grid_to_tokens
from trmsolve.loss import IGNORE_LABEL, token_losses
from trmsolve.models import load_model
from trmsolve.network import RecursiveReasoningModel, build_model
from trmsolve.options import SolveOptions
from trmsolve.render import arc_answer_view, arc_score_table
from trmsolve.solver import solve
from trmsolve.train import TrainConfig, Trainer

FIXTURE = Path(__file__).parent / "fixtures" / "arc_builder"
EXPECTED = FIXTURE / "expected"
FIXTURE_MAP = MapSettings("fixture", ("training", "evaluation", "concept"), "evaluation", "your_test_set", 42, 8)
GRID = np.array([[1, 2, 3, 0], [4, 5, 6, 7], [8, 9, 1, 1]], dtype=np.uint8)  # no symmetry, most colours
# Versions of task "t" with every transform and assorted colour permutations.
VIEWS = [
    "t",
    *(f"t|||t{k}|||{''.join(str(c) for c in (0, *np.roll(np.arange(1, 10), k)))}" for k in range(1, 8)),
    "t|||t0|||0987654321",
]
runner = CliRunner()


def _puzzle(task: str, grid: np.ndarray, answer: np.ndarray | None = None, index: int = 0) -> Puzzle:
    train = [(grid, grid[::-1].copy())]
    meta = {"task_id": task, "test_index": index, "train": train}
    return Puzzle("arc", f"mem#{task}/{index}", grid, answer, meta)


def _config(num_ids: int, hidden: int, **arch: Any) -> ModelConfig:
    """An ARC-shaped TRM config with a puzzle embedding as wide as the model and 2 ACT steps."""
    return ModelConfig(
        seq_len=900,
        vocab_size=12,
        num_puzzle_identifiers=num_ids,
        puzzle_emb_ndim=hidden,
        hidden_size=hidden,
        num_heads=2,
        L_cycles=1,
        L_layers=1,
        halt_max_steps=2,
        **arch,
    )


def _copying_model(rows: torch.Tensor) -> RecursiveReasoningModel:
    """A real TRM whose weights make every ACT step copy its input tokens to its output, and whose halting
    logit is 4 x cos(angle) of its puzzle-embedding row: layers off (zero weights), one-hot token embedding
    read back by the LM head, the Q head reading embedding coordinate 12."""
    hidden = 16
    config = _config(len(rows), hidden, H_cycles=1, pos_encodings="none")
    model = build_model(config, CheckpointInfo(task="arc", default_steps=2))
    with torch.no_grad():
        for tensor in (*model.parameters(), model.H_init, model.L_init):
            tensor.zero_()
        model.embed_tokens.embedding_weight.copy_(torch.eye(hidden)[:12])
        model.lm_head.weight.copy_(torch.eye(hidden)[:12])
        model.q_head.weight[0, 12] = 1.0
        model.puzzle_emb.weights.copy_(rows)
    return model.eval()


def _angle_rows(count: int) -> tuple[torch.Tensor, np.ndarray]:
    """Unit rows in coordinates 12 and 13 at distinct angles (row 0, the blank, stays zero), and the halting
    probability each gives the copying model."""
    angles = np.linspace(0.3, 2.8, count)
    rows = torch.zeros(count, 16)
    rows[1:, 12] = torch.from_numpy(np.cos(angles[1:])).float()
    rows[1:, 13] = torch.from_numpy(np.sin(angles[1:])).float()
    q = 1 / (1 + np.exp(-4 * rows[:, 12].double().numpy()))
    return rows, q


def _tiny_trm(num_ids: int, seed: int = 0) -> RecursiveReasoningModel:
    """A randomly initialised ARC-shaped TRM (rope, 2 ACT steps) with random puzzle embeddings."""
    torch.manual_seed(seed)
    config = _config(num_ids, 32, H_cycles=2, pos_encodings="rope")
    model = build_model(config, CheckpointInfo(task="arc", default_steps=2))
    with torch.no_grad():
        model.puzzle_emb.weights.normal_()
    return model.eval()


# -------------------------------------------------------------------------------------------------- voting


def test_vote_ranks_by_count_then_mean_halting_probability() -> None:
    a, b, c, d = (np.full((1, n), n, dtype=np.uint8) for n in (1, 2, 3, 4))
    runs = [(a, 0.9), (b, 0.2), (c, 0.5), (b, 0.4), (c, 0.3), (d, 0.7), (d, 0.5), (a.copy(), 0.1)]
    ranked = vote(runs)
    # a: 2 votes, mean .5; b: 2, .3; c: 2, .4; d: 2, .6 -> all tie on votes, so the mean decides.
    assert [c.grid[0, 0] for c in ranked] == [4, 1, 3, 2]
    assert [c.votes for c in ranked] == [2, 2, 2, 2]
    assert [round(c.q_halt_prob, 6) for c in ranked] == [0.6, 0.5, 0.4, 0.3]
    # One more vote for the lowest beats any halting probability; exact ties keep first appearance.
    ranked = vote([*runs, (b, 0.0), (np.zeros((2, 1), np.uint8), 0.5), (np.zeros((1, 2), np.uint8), 0.5)])
    assert [c.grid.shape for c in ranked][:1] == [(1, 2)] and ranked[0].votes == 3
    assert [c.grid.shape for c in ranked[-2:]] == [(2, 1), (1, 2)]  # same count, same mean: file order


def test_views_follow_the_identifier_order_and_skip_the_blank() -> None:
    views = task_views(["<blank>", "a", "b", "a|||t3|||0123456789", "b|||t1|||0987654321"])
    assert {task: [v.identifier for v in vs] for task, vs in views.items()} == {"a": [1, 3], "b": [2, 4]}
    assert views["b"][1].augmentation == Augmentation("b", 1, (0, 9, 8, 7, 6, 5, 4, 3, 2, 1))
    with pytest.raises(TrmsolveError, match="identifier 1"):
        task_views(["<blank>", "a|||t9|||0123456789"])


def test_every_view_is_undone_through_a_real_model_run() -> None:
    """The copying model answers each augmented input with itself: undoing every augmentation must bring all
    views back to the one original grid, with the mean of the views' own halting probabilities."""
    rows, q = _angle_rows(len(VIEWS) + 1)
    model = _copying_model(rows)
    model.identifiers = ["<blank>", *VIEWS]
    for halt in (False, True):
        (answer,) = predict(model, [_puzzle("t", GRID, GRID)], halt=halt, batch_size=4)
        assert answer.known and answer.runs == len(VIEWS)
        assert len(answer.candidates) == 1
        np.testing.assert_array_equal(answer.candidates[0].grid, GRID)
        assert answer.candidates[0].q_halt_prob == pytest.approx(q[1:].mean(), abs=1e-5)
        assert answer.passes(1) is True
    # Views the model does not have for the task give nothing; a task it never saw runs the blank once.
    (first_two,) = predict(model, [_puzzle("t", GRID)], max_views=2)
    assert first_two.runs == 2 and first_two.candidates[0].q_halt_prob == pytest.approx(q[1:3].mean(), abs=1e-5)
    (unknown,) = predict(model, [_puzzle("other", GRID)])
    assert (unknown.known, unknown.runs, unknown.candidates[0].q_halt_prob) == (False, 1, pytest.approx(0.5))


def test_batched_views_equal_single_runs_of_a_published_checkpoint() -> None:
    """The converted published-format ARC checkpoint, given a map: batching over tasks and views changes
    nothing, and the plain version's answer is what the one-identifier solver gives."""
    model = load_published(
        REFERENCE / "trm_att_learned_arc.pt", config=REFERENCE / "trm_att_learned_arc.config.json", task="arc"
    )
    model.identifiers = ["<blank>", "t", "t|||t1|||0123456789", "t|||t4|||0213456789", "u", "u|||t6|||0987654321"]
    model.identifiers.append("t|||t7|||0918273645")
    puzzles = [_puzzle("t", GRID), _puzzle("u", GRID.T.copy()), _puzzle("t", GRID[:2], index=1)]
    together = predict(model, puzzles, batch_size=64)
    alone = [predict(model, [p], batch_size=1)[0] for p in puzzles]
    for a, b in zip(together, alone, strict=True):
        assert [c.votes for c in a.candidates] == [c.votes for c in b.candidates]
        for ca, cb in zip(a.candidates, b.candidates, strict=True):
            np.testing.assert_array_equal(ca.grid, cb.grid)
            assert ca.q_halt_prob == pytest.approx(cb.q_halt_prob, abs=1e-6)
    assert [a.runs for a in together] == [4, 2, 4]
    plain = predict(model, puzzles[:1], max_views=1)[0].candidates[0].grid
    (result,) = solve(puzzles[:1], model, kind="arc", options=SolveOptions(halt=False))
    np.testing.assert_array_equal(plain, result.answer)


# ------------------------------------------------------------------------------------- scoring, submission


def _answer(task: str, index: int, grids: list[np.ndarray], expected: np.ndarray | None) -> ArcAnswer:
    candidates = [Candidate(g, votes=len(grids) - i, q_halt_prob=0.5) for i, g in enumerate(grids)]
    return ArcAnswer(_puzzle(task, GRID, expected, index), candidates, known=True)


def test_pass_at_k_as_the_published_evaluator_counts_it() -> None:
    g = [np.full((2, 2), c, dtype=np.uint8) for c in range(6)]
    answers = [
        _answer("a", 0, [g[1], g[2]], g[1]),  # right first
        _answer("a", 1, [g[3], g[4], g[5]], g[4]),  # right second
        _answer("b", 0, [g[0], g[1], g[2], g[3], g[4], g[5]], g[3]),  # right fourth
        _answer("c", 0, [g[0]], g[5]),  # never right
        _answer("d", 0, [g[0]], None),  # no known answer: not scored
    ]
    result = score(answers, (1, 2, 5))
    assert [t.task_id for t in result.tasks] == ["a", "b", "c"]
    # Per task: a 1/2, 2/2, 2/2; b 0, 0, 1; c 0, 0, 0. Overall = the mean over the 3 tasks.
    assert result.pass_at(1) == pytest.approx(0.5 / 3)
    assert result.pass_at(2) == pytest.approx(1.0 / 3)
    assert result.pass_at(5) == pytest.approx(2.0 / 3)
    assert result.example_pass_at(2) == pytest.approx(2 / 4)
    assert result.to_dict()["tests"] == 4 and result.to_dict()["pass@5"] == pytest.approx(0.666667)
    assert answers[2].rank_of_answer() == 4 and answers[3].rank_of_answer() == 0 and answers[4].passes(2) is None


def test_submission_layout(tmp_path: Path) -> None:
    g = [np.arange(c, c + 4, dtype=np.uint8).reshape(2, 2) % 10 for c in range(3)]
    answers = [
        _answer("b", 1, [g[2]], None),  # one distinct grid: attempt 2 repeats it, as published
        _answer("b", 0, [g[0], g[1], g[2]], None),
        _answer("a", 0, [g[1], g[0]], None),
    ]
    expected = {
        "b": [
            {"attempt_1": g[0].tolist(), "attempt_2": g[1].tolist()},
            {"attempt_1": g[2].tolist(), "attempt_2": g[2].tolist()},
        ],
        "a": [{"attempt_1": g[1].tolist(), "attempt_2": g[0].tolist()}],
    }
    assert submission(answers) == expected
    path = write_submission(tmp_path / "submission.json", answers, attempts=3)
    written = json.loads(path.read_text())
    assert written["b"][1] == {f"attempt_{i}": g[2].tolist() for i in (1, 2, 3)}
    assert all(type(v) is int for row in written["a"][0]["attempt_1"] for v in row)


# --------------------------------------------------------------------------------------- identifier maps


def test_map_rebuild_equals_the_builders_and_is_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRMSOLVE_CACHE", str(tmp_path / "cache"))
    expected = json.loads((EXPECTED / "identifiers.json").read_text())
    assert identifier_map(FIXTURE / "input", FIXTURE_MAP) == expected
    cached = map_path(FIXTURE / "input", FIXTURE_MAP)
    assert cached.is_relative_to(tmp_path / "cache" / "arc-maps") and json.loads(cached.read_text()) == expected
    cached.write_text(json.dumps(["<blank>", "from-the-cache"]))
    assert identifier_map(FIXTURE / "input", FIXTURE_MAP) == ["<blank>", "from-the-cache"]
    assert map_path(FIXTURE / "input", replace(FIXTURE_MAP, seed=1)) != cached

    model = _tiny_trm(len(expected))
    other = MapSettings("other", ("training",), "training", num_aug=2)
    cached.write_text(json.dumps(expected))
    assert attach_identifier_map(model, FIXTURE / "input", [other, FIXTURE_MAP]) is FIXTURE_MAP
    assert model.identifiers == expected
    with pytest.raises(TrmsolveError, match=r"has 7 identifiers; .* \(other: 19 for 6 tasks; ARC-AGI-2: task files"):
        attach_identifier_map(_tiny_trm(7), FIXTURE / "input", [other, PUBLISHED_MAPS[1]])
    # A checkpoint built with other settings (HRM's ARC-2 one): both counts, and the augmentations that would fit.
    fewer = replace(FIXTURE_MAP, name="fewer", num_aug=2)
    with pytest.raises(TrmsolveError) as caught:
        attach_identifier_map(_tiny_trm(len(expected)), FIXTURE / "input", [fewer])
    assert str(caught.value).startswith("the model's puzzle embedding has 118 identifiers; no published identifier")
    assert "(fewer: 40 for 13 tasks); over the fewer tasks that is about 8 augmentations a task instead of 2" in str(
        caught.value
    )
    assert str(caught.value).endswith("pass its identifiers.json with --identifiers FILE")


def test_builder_task_filter_equals_files_holding_only_those_tasks(tmp_path: Path) -> None:
    keep = {"007bbfb7", "017c7c7b", "00dbd492", "AboveBelow1"}
    for subset in ("training", "evaluation", "concept"):
        for part in ("challenges", "solutions"):
            tasks = json.loads((FIXTURE / "input" / f"arc-agi_{subset}_{part}.json").read_text())
            kept = {k: v for k, v in tasks.items() if k in keep}
            (tmp_path / f"arc-agi_{subset}_{part}.json").write_text(json.dumps(kept))
    args = (["training", "evaluation", "concept"], "evaluation")
    build_arc_dataset(tmp_path / "arc-agi", tmp_path / "small", *args, num_aug=3)
    build_arc_dataset(FIXTURE / "input" / "arc-agi", tmp_path / "filtered", *args, num_aug=3, tasks=keep)
    files = sorted(p.relative_to(tmp_path / "small") for p in (tmp_path / "small").rglob("*") if p.is_file())
    assert len(files) == 14
    for name in files:
        assert (tmp_path / "filtered" / name).read_bytes() == (tmp_path / "small" / name).read_bytes(), name
    with pytest.raises(ValueError, match="tasks not found in subsets training: nope"):
        build_arc_dataset(FIXTURE / "input" / "arc-agi", tmp_path / "x", ["training"], "training", tasks={"nope"})


# ---------------------------------------------------------------------------------------------- adaptation


def test_adapt_learns_only_new_rows_with_the_network_frozen() -> None:
    model = _tiny_trm(3)
    model.identifiers = ["<blank>", "known", "known|||t1|||0123456789"]
    puzzle = _puzzle("new", GRID)
    (before_answer,) = predict(model, [puzzle])  # inference first: adapting must still work afterwards
    assert not before_answer.known
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pairs = [(GRID, GRID[:, ::-1].copy()), (GRID[:2], GRID[:2, ::-1].copy())]
    result = adapt(model, "new", pairs, steps=3, versions=2)

    assert (result.task_id, result.versions, result.steps) == ("new", 2, 3) and result.seconds > 0
    after = model.state_dict()
    assert set(after) == set(before)
    for name, tensor in before.items():
        if name != "puzzle_emb.weights":
            assert torch.equal(after[name], tensor), f"{name} changed"
    rows = after["puzzle_emb.weights"]
    assert rows.shape == (5, 32) and torch.equal(rows[:3], before["puzzle_emb.weights"])
    assert bool((rows[3:].abs().sum(-1) > 0).all())
    assert model.config.num_puzzle_identifiers == 5 and len(model.identifiers) == 5
    assert model.identifiers[3] == "new" and model.identifiers[4].startswith("new|||t")
    assert all(p.requires_grad for p in model.parameters())

    (answer,) = predict(model, [puzzle])
    assert answer.known and answer.runs == 2
    with pytest.raises(TrmsolveError, match="already knows"):
        adapt(model, "new", pairs, steps=1)


def _demo_loss(model: RecursiveReasoningModel, identifier: int, pairs: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean per-token stablemax loss after one step, one pair at a time (what nearest_rows batches)."""
    total = 0.0
    for grid, answer in pairs:
        labels = torch.from_numpy(grid_to_tokens(answer)).long()[None]
        labels[labels == 0] = IGNORE_LABEL
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(model, None)):
            inputs = torch.from_numpy(grid_to_tokens(grid)).long()[None]
            logits = model(model.initial_carry(1), inputs, torch.tensor([identifier]))
        total += float(token_losses(logits.logits.float(), labels, "stablemax").sum() / (labels != IGNORE_LABEL).sum())
    return total / len(pairs)


def test_nearest_rows_picks_the_known_identifier_with_least_loss() -> None:
    model = _tiny_trm(5)
    model.identifiers = ["<blank>", "a", "a|||t1|||0123456789", "b", "c"]
    demos = [[(GRID, GRID[::-1].copy()), (GRID[:2], GRID[:2, ::-1].copy())], [(GRID.T.copy(), GRID.T[::-1].copy())]]
    for view in demos:
        losses = {k: _demo_loss(model, k, view) for k in range(1, 5)}
        assert len(set(losses.values())) == 4  # no ties: the argmin is well defined
    expected = [min(range(1, 5), key=lambda k, v=view: _demo_loss(model, k, v)) for view in demos]
    assert nearest_rows(model, demos) == expected
    assert nearest_rows(model, demos, batch_size=1) == expected  # one identifier per forward: same choice
    model.puzzle_emb.weights.data[0] = model.puzzle_emb.weights.data[expected[0]]
    assert nearest_rows(model, demos)[0] != 0  # the blank identifier is never a start


def test_adapt_still_takes_its_old_keyword_with_a_deprecation_warning() -> None:
    model = _tiny_trm(3)
    model.identifiers = ["<blank>", "known", "known|||t1|||0123456789"]
    pairs = [(GRID, GRID[:, ::-1].copy())]
    with pytest.warns(DeprecationWarning, match="versions="):
        result = adapt(model, "new", pairs, steps=1, views=2)
    assert result.versions == 2


def test_adapt_starts_from_the_nearest_known_embedding() -> None:
    model = _with_map(_tiny_trm(3))
    pairs = [(GRID, GRID[:, ::-1].copy()), (GRID[:2], GRID[:2, ::-1].copy())]
    table = model.puzzle_emb.weights.detach().clone()
    result = adapt(model, "new", pairs, steps=1, versions=2, lr=1e-9, weight_decay=0.0)
    assert all(name in model.identifiers[1:3] for name in result.started_from)
    for view, name in enumerate(result.started_from):  # one step of rate 1e-9 leaves the start in place
        start = table[model.identifiers.index(name)]
        torch.testing.assert_close(model.puzzle_emb.weights[3 + view], start, atol=1e-6, rtol=0)
    zeros = adapt(_with_map(_tiny_trm(3)), "new", pairs, steps=1, versions=2, start="zeros")
    assert zeros.started_from == ["zeros", "zeros"]
    with pytest.raises(TrmsolveError, match="unknown start"):
        adapt(_with_map(_tiny_trm(3)), "new", pairs, steps=1, start="far")


def _with_map(model: RecursiveReasoningModel) -> RecursiveReasoningModel:
    model.identifiers = ["<blank>", "known", "known|||t1|||0123456789"]
    return model


# ------------------------------------------------------------------------------------------------ commands


def test_build_arc_command_takes_the_published_options(tmp_path: Path) -> None:
    config = json.loads((FIXTURE / "builder_config.json").read_text())
    result = runner.invoke(
        app,
        [
            "build-arc",
            "--input-file-prefix",
            str(FIXTURE / config["input_file_prefix"]),
            "--output-dir",
            str(tmp_path / "out"),
            "--subsets",
            *config["subsets"],
            "--test-set-name",
            config["test_set_name"],
            "--test-set-name2",
            config["test_set_name2"],
            "--num-aug",
            str(config["num_aug"]),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["tasks"], report["identifiers"]) == (13, 118)
    for path in EXPECTED.rglob("*"):
        if path.is_file():
            assert (tmp_path / "out" / path.relative_to(EXPECTED)).read_bytes() == path.read_bytes(), path


def test_arc_command_rebuilds_the_map_votes_and_writes_a_submission(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A published-style model without a map: --arc-data rebuilds it with the published settings (over the
    fixture's task files) and caches it; then every test input is voted over 2 views."""
    monkeypatch.setenv("TRMSOLVE_CACHE", str(tmp_path / "cache"))
    published = PUBLISHED_MAPS[0]
    names = build_arc_dataset(
        FIXTURE / "input" / "arc-agi", None, published.subsets, published.test_set_name
    ).identifiers
    model = _tiny_trm(len(names))
    save_model(model, tmp_path / "model")
    challenges = FIXTURE / "input" / "arc-agi_evaluation_challenges.json"
    args = ["arc", str(challenges), "-m", str(tmp_path / "model"), "--views", "2", "--max-steps", "1"]
    result = runner.invoke(
        app, [*args, "--arc-data", str(FIXTURE / "input"), "--json", "--submission", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 1, result.output  # an untrained model: wrong answers
    assert "identifier map rebuilt with the published ARC-AGI-1 builder settings" in result.stderr
    assert json.loads(map_path(FIXTURE / "input", published).read_text()) == names
    records = [json.loads(line) for line in result.stdout.splitlines()]
    tasks = json.loads(challenges.read_text())
    assert [(r["task_id"], r["test_index"]) for r in records] == [
        (task, i) for task, value in tasks.items() for i in range(len(value["test"]))
    ]
    assert all(r["known"] and r["runs"] == 2 and len(r["attempts"]) == 2 and r["correct"] is False for r in records)
    written = json.loads((tmp_path / "s.json").read_text())
    assert list(written) == list(tasks) and all(
        set(e) == {"attempt_1", "attempt_2"} for v in written.values() for e in v
    )

    # Tasks the map does not hold are said to be unknown, and --adapt learns them.
    task = {"train": [{"input": GRID.tolist(), "output": GRID[::-1].tolist()}], "test": [{"input": GRID.tolist()}]}
    (tmp_path / "mine.json").write_text(json.dumps(task))
    mine = ["arc", str(tmp_path / "mine.json"), "-m", str(tmp_path / "model"), "--max-steps", "1", "--json"]
    result = runner.invoke(app, [*mine, "--arc-data", str(FIXTURE / "input")])
    assert "1 task(s) the model never saw (mine)" in result.stderr and not json.loads(result.stdout)["known"]
    result = runner.invoke(app, [*mine, "--arc-data", str(FIXTURE / "input"), "--adapt", "--adapt-steps", "2"])
    assert result.exit_code in (0, 1), result.output  # 1: the untrained model's answer is no grid
    assert "adapted mine in " in result.stderr and "s choosing where to start" in result.stderr
    assert "then 2 steps over 4 augmented versions" in result.stderr
    assert json.loads(result.stdout)["runs"] == 4


def test_eval_arc_scores_a_built_test_split(tmp_path: Path) -> None:
    model = _tiny_trm(118)  # the fixture data set's identifiers; the map comes from the data set
    save_model(model, tmp_path / "model")
    result = runner.invoke(
        app,
        [
            "eval",
            "arc",
            "--data",
            str(EXPECTED),
            "-m",
            str(tmp_path / "model"),
            "--views",
            "1",
            "--max-steps",
            "1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["tasks"], report["tests"]) == (4, 4)
    assert set(report) >= {f"pass@{k}" for k in (1, 2, 5, 10, 100, 1000)}


def test_solving_commands_only_arc_has_the_arc_options() -> None:
    sudoku = runner.invoke(app, ["sudoku", "x.txt", "--submission", "s.json"])
    assert sudoku.exit_code == 2 and "No such option" in sudoku.output
    assert "--adapt-steps" in runner.invoke(app, ["arc", "--help"], terminal_width=200).output


def test_views_of_answers_and_scores() -> None:
    g = [np.full((2, 3), c, dtype=np.uint8) for c in range(3)]
    answer = ArcAnswer(_puzzle("a", GRID, g[1]), [Candidate(g[0], 3, 0.75), Candidate(g[1], 1, 0.25)], known=False)
    console = Console(width=200, color_system=None, record=True)
    console.print(arc_answer_view(get_kind("arc"), answer, 3))
    console.print(arc_score_table(score([answer], (1, 2))))
    text = console.export_text()
    assert "input 3x4  attempt 1 2x3  attempt 2 2x3" in text
    assert "attempt 1 ✗ (3/4 votes, q_halt 0.75) · attempt 2 ✓ (1/4 votes, q_halt 0.25)" in text
    assert "no other answer: attempt 3 repeats attempt 1 · task unknown to the model" in text
    assert "│ a              │     1 │  0.000 │  1.000 │" in text  # one precision for every figure
    assert "│ mean of 1 task │     1 │  0.000 │  1.000 │" in text and "pooled over test inputs: pass@1 0.000" in text


def test_training_on_built_data_gives_a_model_that_carries_its_map(tmp_path: Path) -> None:
    config = TrainConfig(
        task="arc",
        data=str(EXPECTED / "train"),
        out=str(tmp_path / "run"),
        model=_config(1, 16, H_cycles=1, pos_encodings="rope"),  # the identifier count comes from the data
        batch_size=4,
        dtype="float32",
    )
    trainer = Trainer(config, log=lambda line: None)
    trainer.train_step()
    model = load_model(trainer.export(tmp_path / "model"))
    expected = json.loads((EXPECTED / "identifiers.json").read_text())
    assert model.identifiers == expected and model.config.num_puzzle_identifiers == len(expected)
    tasks = json.loads((EXPECTED / "test_puzzles.json").read_text())
    task, value = next(iter(tasks.items()))
    (answer,) = predict(model, [_puzzle(task, np.array(value["test"][0]["input"], dtype=np.uint8))])
    assert answer.known and answer.runs == 9  # the task and its 8 augmentations


def test_a_known_task_under_another_file_name_is_recognised_by_its_demonstrations(tmp_path: Path) -> None:
    """arc-demo knows b1948b0a; the same demonstrations saved as `task (1).json` are that task, not a guess."""
    from trmsolve.arc.views import recognise_tasks, task_fingerprint

    model = load_model("arc-demo")
    task = json.loads((EXAMPLES / "arc" / "b1948b0a.json").read_text())
    model.info.encoding["task_fingerprints"] = {task_fingerprint(task["train"]): "b1948b0a"}
    copy = tmp_path / "task (1).json"
    copy.write_text(json.dumps(task))
    (puzzle,) = get_kind("arc").parse(copy.read_text(), str(copy))
    assert puzzle.meta["task_id"] == "task (1)"
    assert recognise_tasks(model, [puzzle]) == {"task (1)": "b1948b0a"}
    assert puzzle.meta["task_id"] == "b1948b0a"
    other = dict(task, train=task["train"][:1])  # other demonstrations: another task, left alone
    (stranger,) = get_kind("arc").parse(json.dumps(other), "x.json")
    assert recognise_tasks(model, [stranger]) == {} and stranger.meta["task_id"] == "x"


def test_a_view_budget_is_spread_over_the_eight_orientations() -> None:
    names = ["<blank>", "t|||t0|||0123456789"]
    names += [f"t|||t{k}|||{perm}" for k, perm in [(3, "1023456789"), (3, "2013456789"), (0, "3012456789")]]
    names += [f"t|||t{k}|||{perm}" for k, perm in [(5, "0123456798"), (1, "0213456789"), (5, "9123456780")]]
    views = task_views(names)["t"]

    def chosen(budget: int | None) -> list[int]:
        return [view.identifier for view in spread(views, budget)]

    assert chosen(1) == [1]  # the plain version first
    assert chosen(4) == [1, 2, 5, 6]  # one of each orientation (t0, t3, t5, t1: in order of first appearance)
    assert chosen(6) == [1, 2, 5, 6, 4, 3]  # then the second of each
    assert chosen(None) == chosen(99) == list(range(1, 8))
