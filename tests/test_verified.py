"""Verified solving with the bundled Sudoku model: answers that check stop a puzzle, failing ones get more
steps and symmetric views, every view maps back exactly, and the published rule stays as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import EXAMPLES_DIR, FIXTURES

import trmsolve
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.kinds.base import IDENTITY
from trmsolve.kinds.maze import shortest_path
from trmsolve.kinds.sudoku_exact import solve as exact_solve
from trmsolve.options import SolveOptions
from trmsolve.search import solve_verified
from trmsolve.solver import read_inputs, solve

SUDOKU, MAZE = get_kind("sudoku"), get_kind("maze")


@pytest.fixture(scope="module")
def model() -> trmsolve.RecursiveReasoningModel:
    return trmsolve.load_model("sudoku", dtype="float32")


@pytest.fixture(scope="module")
def held_out() -> list[Puzzle]:
    return list(read_inputs([FIXTURES / "data" / "sudoku_eval_64.csv"], "sudoku"))


# ------------------------------------------------------------------------------------------- symmetries


def test_every_sudoku_view_maps_back_exactly_and_keeps_the_solutions() -> None:
    (puzzle,) = read_inputs([EXAMPLES_DIR / "sudoku" / "easy.txt"], "sudoku")
    solution = exact_solve(puzzle.grid).solutions[0]
    views = SUDOKU.symmetries(puzzle, 8, seed=3, allowed=None)
    assert views[0] is IDENTITY and len({v.name for v in views}) == 8
    for view in views:
        seen = view.apply(puzzle)
        assert np.array_equal(view.inverse(view.forward(puzzle.grid)), puzzle.grid)
        (solved,) = exact_solve(seen.grid).solutions  # still exactly one solution
        assert np.array_equal(view.inverse(solved), solution)
        assert SUDOKU.accepts(puzzle, view.inverse(solved))
    assert [v.name for v in SUDOKU.symmetries(puzzle, 8, seed=3, allowed=None)] == [v.name for v in views]
    assert SUDOKU.symmetries(puzzle, 8, seed=3, allowed=[]) == [IDENTITY]  # a model trained without them


def test_maze_views_only_when_the_model_was_trained_with_them_and_paths_map_back() -> None:
    puzzles = list(read_inputs([EXAMPLES_DIR / "maze" / "several.txt"], "maze"))
    for puzzle in puzzles:
        assert MAZE.symmetries(puzzle, 8, seed=0, allowed=None) == [IDENTITY]
        views = MAZE.symmetries(puzzle, 8, seed=0, allowed=["dihedral"])
        assert len({v.name for v in views}) == 8
        for view in views:
            seen = view.apply(puzzle)
            path = shortest_path(seen.grid)
            assert path is not None
            drawn = seen.grid.copy()
            for cell in path.cells:
                drawn[cell] = ord("o")
            assert MAZE.accepts(puzzle, view.inverse(drawn)), view.name


def test_the_views_of_a_maze_on_the_canvas_keep_it_in_the_top_left_corner() -> None:
    """A CSV row is the whole 30x30 canvas: rotating the canvas would move a 13x13 maze to the other corners,
    and the batch's one crop would grow to the full canvas for every view, the maze as given too."""
    from trmsolve.data.maze import generate
    from trmsolve.kinds.maze import maze_extent
    from trmsolve.models import load_model

    row = next(generate(1, 5, small_share=1, small_sides=(13, 13)))
    puzzle = next(MAZE.parse(f"question,answer\n{row.question},{row.answer}\n", "row.csv"))
    assert isinstance(puzzle, Puzzle) and puzzle.grid.shape == (30, 30)
    views = MAZE.symmetries(puzzle, 8, seed=0, allowed=["dihedral"])
    for view in views:
        seen = view.apply(puzzle)
        assert (seen.grid[14:] == ord("#")).all() and (seen.grid[:, 14:] == ord("#")).all(), view.name
        assert np.array_equal(view.inverse(seen.grid), puzzle.grid), view.name
        assert np.array_equal(view.inverse(seen.answer), puzzle.answer), view.name
    model = load_model("maze", dtype="float32")
    every = torch.from_numpy(np.stack([MAZE.encode(view.apply(puzzle)) for view in views])).long()
    crop, side = model.canvas_positions(every), max(maze_extent(puzzle.grid))  # side: the maze and its border
    assert crop is not None and len(crop) <= side * side  # every view runs within the maze's own square


# ------------------------------------------------------------------------------------------------ solving


def test_a_failing_answer_is_never_returned_once_a_passing_one_was_reached(
    model: trmsolve.RecursiveReasoningModel, held_out: list[Puzzle]
) -> None:
    puzzles = held_out[:24]
    reached: dict[int, bool] = {}

    def watch(step) -> None:  # every step of the view --trace shows
        reached[step.key] = reached.get(step.key, False) or bool(SUDOKU.accepts(puzzles[step.key], step.answer))

    outcomes = solve_verified(model, SUDOKU, puzzles, [0] * len(puzzles), SolveOptions(max_steps=20, views=4), watch)
    for index, outcome in enumerate(outcomes):
        if reached.get(index):
            assert outcome.accepted and SUDOKU.accepts(puzzles[index], outcome.answer)
        assert outcome.accepted == bool(SUDOKU.accepts(puzzles[index], outcome.answer))
        assert 1 <= outcome.view_steps <= 20 and outcome.total_steps >= outcome.view_steps


def test_verified_solving_gains_over_the_q_head_and_costs_no_more_on_easy_puzzles(
    model: trmsolve.RecursiveReasoningModel, held_out: list[Puzzle]
) -> None:
    """On the first 32 of these held-out puzzles (measured: 25 right with the Q head, 32 verified)."""
    puzzles = held_out[:32]
    published = list(solve(puzzles, model, kind="sudoku", options=SolveOptions(verify=False), in_order=True))
    verified = list(solve(puzzles, model, kind="sudoku", in_order=True))
    assert sum(r.correct for r in verified) >= sum(r.correct for r in published) + 5
    assert all(r.valid == r.correct for r in verified)  # a valid Sudoku answer is the (unique) solution
    for before, after in zip(published, verified, strict=True):
        if before.correct and before.steps == 1:  # an easy puzzle: its first answer passes the check
            assert (after.steps, after.view, after.total_steps) == (1, 0, 1)
    routes = {r.route for r in verified if r.valid}
    assert "as given" in routes and routes <= {"as given", "more steps", "other view"}
    for result in verified:
        record = result.to_dict()
        assert record["view"] == result.view and record["total_steps"] >= record["steps"]
        assert record["route"] == result.route and isinstance(record["symmetry"], str)


def test_views_and_halting_in_a_ragged_batch_give_what_each_puzzle_gets_alone(
    model: trmsolve.RecursiveReasoningModel, held_out: list[Puzzle]
) -> None:
    puzzles = held_out[:10]
    options = SolveOptions(max_steps=18, views=3)
    together = list(solve(puzzles, model, kind="sudoku", options=options, in_order=True))
    alone = [next(solve([p], model, kind="sudoku", options=SolveOptions(max_steps=18, views=3, batch_size=1)))
             for p in puzzles]  # fmt: skip
    assert len({r.total_steps for r in together}) > 1  # ragged: puzzles left the batch at different steps
    assert [r.valid for r in together] == [r.valid for r in alone]
    assert [(r.view, r.steps) for r in together if r.valid] == [(r.view, r.steps) for r in alone if r.valid]


def test_the_published_rule_is_one_option_away(model: trmsolve.RecursiveReasoningModel, held_out: list[Puzzle]) -> None:
    from trmsolve.inference import final, refine

    puzzles = held_out[:8]
    tokens = np.stack([SUDOKU.encode(p) for p in puzzles])
    for options, halt in ((SolveOptions(verify=False), True), (SolveOptions(halt=False), False)):
        results = list(solve(puzzles, model, kind="sudoku", options=options, in_order=True))
        last = final(refine(model, tokens, halt=halt))
        expected = [SUDOKU.decode(row, p) for row, p in zip(last.predictions.numpy(), puzzles, strict=True)]
        assert all(np.array_equal(r.answer, e) for r, e in zip(results, expected, strict=True))
        assert [r.steps for r in results] == last.steps.tolist()
        assert all(r.view == 0 and r.total_steps == r.steps for r in results)


def test_a_maze_gets_the_answer_it_gets_alone_beside_a_30x30_maze_in_its_batch() -> None:
    """A batch runs on one canvas crop and the prefix token sees all of it: beside a 30x30 maze, a small one ran
    on the whole canvas and got another answer (the bundled model failed examples/maze/small.txt in a batch
    with maze-hard.csv, and solved it alone)."""
    model = trmsolve.load_model("maze", dtype="float32")
    small, hard, *_ = (
        p for p in read_inputs([EXAMPLES_DIR / "maze" / n for n in ("small.txt", "maze-hard.csv")], "maze")
    )
    options = SolveOptions(verify=False, halt=False, max_steps=2)
    alone = next(solve([small], model, kind="maze", options=options))
    beside, _ = solve([small, hard], model, kind="maze", options=options, in_order=True)
    assert beside.confidence == pytest.approx(alone.confidence, abs=1e-6)
    assert beside.q_halt_prob == pytest.approx(alone.q_halt_prob, abs=1e-6)
    assert np.array_equal(beside.answer, alone.answer)


def test_a_maze_gets_the_answer_it_gets_alone_beside_one_whose_rotated_views_need_a_larger_square() -> None:
    """A CSV maze of 13x13 sits on a 13-cell square as given and on a 14-cell one under some rotations (its
    outer wall moves to the other side). Verified solving ran every view of a batch on the square holding them
    all, so a 13x13 text maze beside it ran one row larger than alone and could get another answer."""
    from trmsolve.data.maze import generate

    model = trmsolve.load_model("maze", dtype="float32")

    def sides(puzzle: Puzzle) -> list[int]:
        views = MAZE.symmetries(puzzle, 8, seed=0, allowed=["dihedral"])
        tokens = [torch.from_numpy(MAZE.encode(view.apply(puzzle))[None]).long() for view in views]
        return [math.isqrt(len(model.canvas_positions(t))) for t in tokens]

    first, second = (next(generate(1, seed, small_share=1, small_sides=(13, 13))) for seed in (1, 0))
    text = "\n".join(first.question[r * 30 : r * 30 + 13].replace(" ", ".") for r in range(13)) + "\n"
    (text_maze,) = MAZE.parse(text, "maze.txt")
    (csv_maze,) = MAZE.parse(f"question,answer\n{second.question},{second.answer}\n", "row.csv")
    assert set(sides(text_maze)) == {13} and sides(csv_maze)[0] == 13 and max(sides(csv_maze)) == 14
    options = SolveOptions(max_steps=3, views=8)
    alone = next(solve([text_maze], model, kind="maze", options=options))
    beside, _ = solve([text_maze, csv_maze], model, kind="maze", options=options, in_order=True)
    assert (beside.steps, beside.total_steps, beside.view) == (alone.steps, alone.total_steps, alone.view)
    assert beside.confidence == alone.confidence and beside.q_halt_prob == alone.q_halt_prob
    assert np.array_equal(beside.answer, alone.answer)


def test_past_its_transforms_a_maze_takes_restarts_in_rounds_each_its_own_in_any_batch() -> None:
    """The bundled maze model's config sets restart_noise: a maze whose eight transforms all fail runs them again
    from a perturbed initial state, eight views a round. A restart is seeded by the maze and its view alone (the
    same answer beside another maze), differs from the run it restarts, and a model without restart_noise stops
    at its transforms."""
    model = trmsolve.load_model("maze", dtype="float32")
    assert model.info.restart_noise and (model.info.views or 0) > 8
    small, hard, *_ = read_inputs([EXAMPLES_DIR / "maze" / n for n in ("small.txt", "maze-hard.csv")], "maze")
    options = SolveOptions(max_steps=1, views=20)  # one step a view: every view of the hard maze fails
    shown: list = []
    (alone,) = solve_verified(model, MAZE, [hard], [0], options, shown.append)
    assert not alone.accepted and alone.total_steps == 20
    assert [(s.view, s.last) for s in shown[:3]] == [(0, False), (1, False), (8, False)]  # the rounds
    assert shown[2].symmetry == f"{shown[0].symmetry}, restart 1" and len(shown) == 4
    assert shown[3].last and shown[3].view == alone.view and np.array_equal(shown[3].answer, alone.answer)
    assert not np.array_equal(shown[2].confidence, shown[0].confidence)  # view 8 restarts view 0 from elsewhere
    _, beside = solve_verified(model, MAZE, [small, hard], [0, 0], options)
    assert (beside.view, beside.restart, beside.total_steps) == (alone.view, alone.restart, alone.total_steps)
    assert beside.confidence == alone.confidence and np.array_equal(beside.answer, alone.answer)
    model.info.restart_noise = None
    (capped,) = solve_verified(model, MAZE, [hard], [0], options)
    assert capped.total_steps == 8 and capped.restart == 0
