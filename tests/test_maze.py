"""Maze kind (parse, canvas, verify, render) and maze training data (generators, CSV, augmentation)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

from trmsolve.cli import app
from trmsolve.data import maze as data
from trmsolve.data.csvfile import write_csv
from trmsolve.errors import PuzzleParseError
from trmsolve.kinds import Puzzle, get_kind
from trmsolve.kinds.maze import (
    CANVAS,
    CHAR_TO_TOKEN,
    GOAL,
    OPEN,
    PATH,
    START,
    TOKEN_TO_CHAR,
    WALL,
    bfs,
    shortest_path,
    trace_back,
)

EXAMPLES = Path(__file__).parents[1] / "examples" / "maze"
MAZE = get_kind("maze")

# Shortest path: down the left side, then along the bottom (10 steps); the only other way is 18 steps.
SMALL = """\
#########
#S      #
# ##### #
# #     #
# # #####
#      G#
#########"""
SHORTEST = [(2, 1), (3, 1), (4, 1), (5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (5, 6)]
DETOUR = [(1, c) for c in range(2, 8)] + [(2, 7)] + [(3, c) for c in range(7, 2, -1)]
DETOUR += [(4, 3)] + [(5, c) for c in range(3, 7)]


def grid_of(text: str) -> np.ndarray:
    return np.array([np.frombuffer(row.encode(), np.uint8) for row in text.split("\n")])


def parse(text: str, source: str = "m.txt") -> list[Puzzle | PuzzleParseError]:
    return list(MAZE.parse(text, source))


def small_puzzle(with_answer: bool = False) -> Puzzle:
    (puzzle,) = parse(SMALL)
    if with_answer:
        puzzle.answer = marked(puzzle.grid, SHORTEST)
    return puzzle


def marked(grid: np.ndarray, cells: list[tuple[int, int]]) -> np.ndarray:
    answer = grid.copy()
    for cell in cells:
        answer[cell] = PATH
    return answer


# --- parsing ---


def test_parse_text_sizes_and_lines() -> None:
    canvas = np.frombuffer(next(data.generate(1, 3, small_share=0)).question.encode(), np.uint8).reshape(30, 30)
    text = "\n" + SMALL + "\n\n\n" + "#####\n#S.G#\n#####\n\n" + MAZE.to_text(canvas) + "\n"
    first, second, third = parse(text, "dir/f.txt")
    assert (first.source, first.grid.shape, first.meta) == ("dir/f.txt:2", (7, 9), {"height": 7, "width": 9})
    assert first.answer is None
    assert (second.source, second.grid.shape) == ("dir/f.txt:11", (3, 5))
    assert MAZE.to_text(second.grid) == "#####\n#S G#\n#####"  # '.' reads as an open cell
    assert third.source == "dir/f.txt:15" and np.array_equal(third.grid, canvas)


def test_parse_drawn_path_is_the_known_answer() -> None:
    (puzzle,) = parse(MAZE.to_text(marked(grid_of(SMALL), SHORTEST)))
    assert np.array_equal(puzzle.grid, grid_of(SMALL))
    assert np.array_equal(puzzle.answer, marked(grid_of(SMALL), SHORTEST))


def test_parse_pads_editor_stripped_rows_only() -> None:
    stripped = "\n".join(row.rstrip() for row in ["####", "#S  ", "# #G", "#   ", "####"])
    (puzzle,) = parse(stripped)
    assert puzzle.grid.shape == (5, 4) and MAZE.to_text(puzzle.grid).split("\n")[1] == "#S  "
    # A file that keeps trailing spaces, or writes open cells as '.', was not stripped: a short row is a typo.
    for text in ["####\n#S  \n# #G\n#  \n####", "####\n#S..\n# #G\n#..\n####"]:
        (error,) = parse(text)
        assert isinstance(error, PuzzleParseError) and str(error).startswith("m.txt:4: row is 3 wide, the other rows 4")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("###\n#S#\n###", "m.txt:5: no G in maze"),
        ("#####\n#S#G#\n#####", "m.txt:5: G cannot be reached from S"),
        ("#####\n#SSG#\n#G  #", "m.txt:6: 2 S cells (row 2, col 2; row 2, col 3)"),
        ("#####\n#S G#\n# x #", "m.txt:7: unexpected character 'x' at col 3"),
        ("#" * 31 + "\n#SG", "m.txt:5: maze is 31 wide, the model's canvas is 30x30"),
        ("\n".join(["#SG"] + ["###"] * 30), "m.txt:35: maze is 31 tall, the model's canvas is 30x30"),
    ],
)
def test_parse_errors_name_file_and_line_and_parsing_goes_on(text: str, message: str) -> None:
    good = "#####\n#S G#\n#####"
    before, error, after = parse(good + "\n\n" + text + "\n\n" + good)
    assert isinstance(error, PuzzleParseError) and str(error).startswith(message)
    assert before.source == "m.txt:1" and after.source.startswith("m.txt:") and after.grid.shape == (3, 5)


def test_parse_csv_in_maze_hard_layout(tmp_path: Path) -> None:
    rows = list(data.generate(3, 5, small_share=0.5))
    path = tmp_path / "hard.csv"
    write_csv(path, rows)
    with_bad = path.read_text() + "x,#S,#S,4\n"
    puzzles = parse(with_bad, str(path))
    assert [p.source for p in puzzles[:3]] == [f"{path}:{i}" for i in (2, 3, 4)]
    for puzzle, row in zip(puzzles[:3], rows, strict=True):
        assert puzzle.grid.shape == (CANVAS, CANVAS)
        assert puzzle.grid.tobytes().decode() == row.question and puzzle.answer.tobytes().decode() == row.answer
        assert puzzle.meta["rating"] == row.rating and puzzle.meta["origin"] == row.source
    assert isinstance(puzzles[3], PuzzleParseError) and str(puzzles[3]).startswith(f"{path}:5: question has 2 cells")


# --- canvas ---


def test_small_maze_sits_top_left_on_a_walled_canvas_and_crops_back() -> None:
    puzzle = small_puzzle(with_answer=True)
    tokens = MAZE.encode(puzzle)
    assert tokens.shape == (900,) and tokens.dtype == np.int64
    canvas = tokens.reshape(30, 30)
    assert np.array_equal(TOKEN_TO_CHAR[canvas[:7, :9]], puzzle.grid)
    assert (canvas[7:] == 1).all() and (canvas[:, 9:] == 1).all()  # '#' is token 1
    answer_tokens = MAZE.encode(Puzzle("maze", "x", puzzle.answer))
    assert np.array_equal(MAZE.decode(answer_tokens, puzzle), puzzle.answer)


# --- verify ---


def test_shortest_path_knows_when_it_is_unique() -> None:
    path = shortest_path(grid_of(SMALL))
    assert (path.length, path.cells, path.unique) == (10, SHORTEST, True)
    open_middle = SMALL.replace("# #     #\n# # #####", "#       #\n# ##### #")  # three 10-step paths now
    path = shortest_path(grid_of(open_middle))
    assert (path.length, path.unique) == (10, False)


def test_verify_accepts_the_shortest_path() -> None:
    puzzle = small_puzzle(with_answer=True)
    verdict = MAZE.verify(puzzle, puzzle.answer)
    assert verdict.valid and verdict.correct and verdict.problems == []
    assert verdict.details == {"path_len": 10, "shortest_len": 10, "shortest": True}


def test_verify_flags_a_longer_path_as_valid_but_not_shortest() -> None:
    puzzle = small_puzzle(with_answer=True)
    verdict = MAZE.verify(puzzle, marked(puzzle.grid, DETOUR))
    assert verdict.valid and verdict.correct is False
    assert verdict.details == {"path_len": 18, "shortest_len": 10, "shortest": False}
    assert verdict.problems == ["not a shortest path: 18 steps, the shortest has 10"]
    assert MAZE.verify(small_puzzle(), marked(puzzle.grid, DETOUR)).correct is None


def test_verify_takes_any_shortest_path_when_several_tie() -> None:
    """The open middle gives three 10-step paths; the file's answer names one, and each of the others is as right."""
    open_middle = SMALL.replace("# #     #\n# # #####", "#       #\n# ##### #")
    (puzzle,) = parse(open_middle)
    puzzle.answer = marked(puzzle.grid, SHORTEST)
    along_the_top = [(1, c) for c in range(2, 8)] + [(2, 7), (3, 7), (4, 7)]
    verdict = MAZE.verify(puzzle, marked(puzzle.grid, along_the_top))
    assert verdict.valid and verdict.correct and verdict.details["shortest"] and verdict.problems == []
    assert MAZE.verify(puzzle, marked(puzzle.grid, [*DETOUR[:6], (2, 7), (3, 7), (3, 6)])).correct is False


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda a: a.__setitem__((5, 4), OPEN), "path breaks after 6 cells, at row 6, col 4"),
        (lambda a: a.__setitem__((2, 2), PATH), "path crosses 1 wall at row 3, col 3"),
        (lambda a: a.__setitem__((1, 1), OPEN), "S is gone from row 2, col 2"),
        (lambda a: a.__setitem__((5, 7), PATH), "G is gone from row 6, col 8"),
        (lambda a: a.__setitem__((1, 1), WALL), "S is gone from row 2, col 2"),
        (lambda a: a.__setitem__((3, 1), ord("G")), "1 changed maze cell at row 4, col 2"),
        (lambda a: a.__setitem__((1, 2), PATH), "path forks at S"),
        (
            lambda a: [a.__setitem__((3, c), PATH) for c in (4, 5, 6)],
            "3 stray path cells, first at row 4, col 5",
        ),
        (lambda a: a.__setitem__((3, 3), 0), "1 unreadable cell at row 4, col 4"),
        (lambda a: a.__setitem__(a == PATH, OPEN), "no path marked"),
    ],
)
def test_verify_names_what_is_wrong(change, problem: str) -> None:
    puzzle = small_puzzle(with_answer=True)
    answer = puzzle.answer.copy()
    change(answer)
    verdict = MAZE.verify(puzzle, answer)
    assert not verdict.valid and not verdict.correct
    assert problem in verdict.problems, verdict.problems
    assert verdict.details["shortest_len"] == 10 and verdict.details["shortest"] is None


def test_verify_reports_pad_tokens_from_the_model() -> None:
    puzzle = small_puzzle()
    tokens = MAZE.encode(Puzzle("maze", "x", marked(puzzle.grid, SHORTEST)))
    tokens[9 + 30 * 3] = 0  # row 4, col 10 is outside the 7x9 maze: cropped away, harmless
    assert MAZE.verify(puzzle, MAZE.decode(tokens, puzzle)).valid
    tokens[1 + 30 * 3] = 0  # a path cell
    verdict = MAZE.verify(puzzle, MAZE.decode(tokens, puzzle))
    assert "1 unreadable cell at row 4, col 2" in verdict.problems and not verdict.valid


def test_render_reads_as_plain_text() -> None:
    puzzle = small_puzzle(with_answer=True)
    console = Console(width=100, color_system=None, record=True)
    changed = np.zeros(puzzle.grid.shape, bool)
    changed[5, 3] = True
    console.print(MAZE.render(puzzle, puzzle.answer, changed=changed, confidence=np.full(changed.shape, 0.3)))
    lines = console.export_text().splitlines()
    assert lines[0] == "██" * 9
    assert lines[1] == "██S " + " " * 12 + "██" and lines[5] == "██" + "··" * 6 + "G ██"


# --- data ---


def test_generate_is_reproducible_and_row_i_depends_only_on_seed_and_i() -> None:
    assert list(data.generate(4, 11)) == list(data.generate(8, 11))[:4]
    assert list(data.generate(4, 11)) != list(data.generate(4, 12))


def test_generated_answers_are_unique_shortest_paths_over_all_algorithms() -> None:
    rows = list(data.generate(2 * len(data.ALGORITHMS), 1, small_share=0.5))
    assert {row.source.split()[0] for row in rows} == set(data.ALGORITHMS)
    for row in rows:
        h, w = map(int, row.source.split()[1].split("x"))
        assert h == w == 30 or data.SMALL_SIDES[0] <= min(h, w) <= max(h, w) <= data.SMALL_SIDES[1]
        question, answer = (np.frombuffer(s.encode(), np.uint8).reshape(30, 30) for s in (row.question, row.answer))
        assert (question[h:] == WALL).all() and (question[:, w:] == WALL).all()
        puzzle = Puzzle("maze", row.source, question[:h, :w], answer[:h, :w])
        path = shortest_path(puzzle.grid)
        assert path.unique and path.length == row.rating
        verdict = MAZE.verify(puzzle, puzzle.answer)
        assert verdict.valid and verdict.details["shortest"], (row.source, verdict.problems)


def test_generate_hard_mazes_have_long_paths() -> None:
    rows = list(data.generate(4, 2, min_path=data.HARD_PATH + 1, small_share=0))
    assert {row.source.split()[0] for row in rows} == set(data.HARD_ALGORITHMS)
    assert all(row.rating > data.HARD_PATH for row in rows)
    with pytest.raises(ValueError, match="prim made no 30x30 maze"):
        list(data.generate(1, 0, algorithms=["prim"], min_path=400, max_tries=3))


def test_a_generator_that_fails_part_way_leaves_no_csv_behind(tmp_path: Path) -> None:
    """`generate maze` with a size its settings cannot fill failed after hundreds of rows and left them under the
    output's name, a CSV that looked finished (once, 611 of 20,000 rows)."""
    made = data.generate(3, 4, small_share=1)

    def failing_part_way():
        yield from made
        raise ValueError("prim made no 19x19 maze with a unique shortest path of 70+ steps in 200 tries")

    out = tmp_path / "m.csv"
    out.write_text("an earlier, complete file\n")
    with pytest.raises(ValueError, match="prim made no"):
        write_csv(out, failing_part_way())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.csv"]
    assert out.read_text() == "an earlier, complete file\n"


def test_csv_roundtrip_tokens_tiers_and_augmentation(tmp_path: Path) -> None:
    rows = [*data.generate(6, 4, small_share=0), *data.generate(3, 4, small_share=1)]
    seen = []
    assert write_csv(tmp_path / "m.csv", rows, progress=seen.append) == 9 and seen == list(range(1, 10))
    assert (tmp_path / "m.csv").read_text().startswith("source,question,answer,rating\n")
    inputs, labels, ratings = data.load_tokens(tmp_path / "m.csv")
    assert inputs.shape == labels.shape == (9, 900) and inputs.dtype == labels.dtype == ratings.dtype == np.int64
    assert list(ratings) == [row.rating for row in rows]
    assert TOKEN_TO_CHAR[inputs[0]].tobytes().decode() == rows[0].question
    expected = ["hard" if r.rating > data.HARD_PATH else "30x30" for r in rows[:6]] + ["small"] * 3
    assert list(data.tiers(inputs, ratings)) == expected

    reps = 4
    aug_inputs, aug_labels = data.augment(
        np.tile(inputs, (reps, 1)), np.tile(labels, (reps, 1)), np.random.default_rng(0)
    )
    assert list(data.tiers(aug_inputs, np.tile(ratings, reps))) == expected * reps
    assert (aug_inputs != np.tile(inputs, (reps, 1))).any(axis=1).sum() > len(aug_inputs) // 2
    for x, y in zip(aug_inputs, aug_labels, strict=True):
        puzzle = Puzzle("maze", "aug", TOKEN_TO_CHAR[x.reshape(30, 30)], None)
        verdict = MAZE.verify(puzzle, TOKEN_TO_CHAR[y.reshape(30, 30)])
        assert verdict.valid and verdict.details["shortest"]


def test_open_fields_with_ties_train_one_rule_in_every_transform() -> None:
    """`--ties` fields reach G by several shortest paths; their label is the path `trace_back` draws, and after a
    transform `augment` redraws it in the new frame, so each view's label follows the same rule."""
    rows = list(data.generate(4, 7, algorithms=["obstacles"], min_path=60, small_share=0, ties=True))
    inputs = CHAR_TO_TOKEN[np.frombuffer("".join(r.question for r in rows).encode(), np.uint8)].reshape(4, 900)
    labels = CHAR_TO_TOKEN[np.frombuffer("".join(r.answer for r in rows).encode(), np.uint8)].reshape(4, 900)
    assert all(row.rating >= 60 for row in rows)
    assert not all(shortest_path(TOKEN_TO_CHAR[x.reshape(30, 30)]).unique for x in inputs)  # ties there are
    assert (data.traced_labels(inputs, labels) == labels).all()  # as generated: the rule's path already
    aug_inputs, aug_labels = data.augment(np.tile(inputs, (8, 1)), np.tile(labels, (8, 1)), np.random.default_rng(3))
    for x, y in zip(aug_inputs, aug_labels, strict=True):
        grid = TOKEN_TO_CHAR[x.reshape(30, 30)]
        verdict = MAZE.verify(Puzzle("maze", "aug", grid, None), TOKEN_TO_CHAR[y.reshape(30, 30)])
        assert verdict.valid and verdict.details["shortest"]
        start, goal = tuple(np.argwhere(grid == START)[0]), tuple(np.argwhere(grid == GOAL)[0])
        dist, _ = bfs(grid != WALL, start)
        assert {tuple(c) for c in np.argwhere(y.reshape(30, 30) == CHAR_TO_TOKEN[PATH])} == set(trace_back(dist, goal))


def test_load_tokens_names_the_bad_row(tmp_path: Path) -> None:
    row = next(data.generate(1, 0))
    path = tmp_path / "bad.csv"
    write_csv(path, [row, row._replace(answer=row.answer[:-1] + "x"), row._replace(question="#")])
    with pytest.raises(PuzzleParseError, match=r"bad\.csv:4: question has 1 cells, expected 900"):
        data.load_tokens(path)
    write_csv(path, [row, row._replace(answer=row.answer[:-1] + "x")])
    with pytest.raises(PuzzleParseError, match=r"bad\.csv:3: answer holds characters outside"):
        data.load_tokens(path)


# --- examples ---


def test_examples_parse_and_survive_trailing_space_stripping() -> None:
    for path in [*sorted(EXAMPLES.iterdir()), EXAMPLES.parent / "bad" / "maze.txt"]:
        if path.suffix not in MAZE.extensions:
            continue
        text = path.read_text()
        items = parse(text, path.name)
        errors = [str(item) for item in items if isinstance(item, PuzzleParseError)]
        bad = path.parent.name == "bad"
        assert errors == (["maze.txt:20: 2 G cells (row 7, col 2; row 10, col 2)"] if bad else [])
        puzzles = [item for item in items if isinstance(item, Puzzle)]
        assert puzzles and all(MAZE.verify(p, p.answer).valid for p in puzzles if p.answer is not None)
        if path.suffix == ".txt":
            stripped = parse("\n".join(line.rstrip() for line in text.splitlines()), path.name)
            assert [MAZE.to_text(p.grid) for p in stripped if isinstance(p, Puzzle)] == [
                MAZE.to_text(p.grid) for p in puzzles
            ]


def test_small_sides_bound_the_smaller_mazes() -> None:
    rows = list(data.generate(6, 9, small_share=1.0, small_sides=(5, 7)))
    assert all(row.source.split()[-1] in {f"{h}x{w}" for h in (5, 6, 7) for w in (5, 6, 7)} for row in rows)
    with pytest.raises(ValueError, match=r"within 5\.\.27"):
        next(data.generate(1, 0, small_sides=(3, 9)))


def test_generate_command_takes_the_maze_options(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "hard.csv"
    args = ["generate", "maze", "2", "-o", str(out), "--min-path", "111", "--small-share", "0", "--json"]
    made = runner.invoke(app, args)
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["min_path"] == 111
    assert all(int(row["rating"]) >= 111 for row in csv.DictReader(out.open()))
    small = runner.invoke(app, ["generate", "maze", "2", "-o", str(out), "--small-share", "1", "--small-sides", "5-6"])
    assert small.exit_code == 0, small.output
    assert all(row["source"].split()[-1] in {"5x5", "5x6", "6x5", "6x6"} for row in csv.DictReader(out.open()))
    for bad in (["--small-sides", "9"], ["--small-sides", "2-4"]):
        wrong = runner.invoke(app, ["generate", "maze", "1", "-o", str(out), *bad])
        assert wrong.exit_code == 2 and "error:" in wrong.stderr and "Traceback" not in wrong.output
    impossible = ["--small-share", "1", "--small-sides", "5-5", "--min-path", "30", "--algorithms", "prim"]
    failed = runner.invoke(app, ["generate", "maze", "3", "-o", str(tmp_path / "none.csv"), *impossible])
    assert failed.exit_code == 2 and failed.stderr.startswith("error: prim made no 5x5 maze"), failed.output
    assert not list(tmp_path.glob("none.csv*"))


@pytest.mark.parametrize("prefix", [0, 1, 2])
@pytest.mark.parametrize(("rows", "width"), [(1, 1), (5, 5), (17, 17), (3, 7)])
def test_neighbour_attention_equals_attention_under_the_neighbour_mask(prefix: int, rows: int, width: int) -> None:
    """The linear-time neighbour attention is dense attention under the [T, T] mask of the pairs it allows: a
    cell sees the prefix tokens, itself and its four grid neighbours; a prefix token sees every token."""
    import torch
    import torch.nn.functional as F

    from trmsolve.network.neighbour import neighbour_attention, neighbour_mask, off_grid_keys

    torch.manual_seed(rows + width + prefix)
    q, k, v = (torch.randn(3, prefix + rows * width, 4, 8) for _ in range(3))  # [B, T, heads, d]
    mask = neighbour_mask(torch.arange(rows * width), width, prefix)
    dense = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v)), attn_mask=mask).transpose(1, 2)
    stencil = neighbour_attention(q, k, v, off_grid_keys(rows, width), prefix)
    torch.testing.assert_close(stencil, dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("prefix", [1, 2])
def test_position_free_prefix_scores_the_prefix_without_positions(prefix: int) -> None:
    """With `plain` (q and k before rotary positions) every score between a prefix token and a cell, and among
    the prefix tokens, uses them; cells score their neighbours with the rotated q and k."""
    import torch

    from trmsolve.network.neighbour import neighbour_attention, neighbour_mask, off_grid_keys

    torch.manual_seed(prefix)
    rows = width = 5
    tokens = prefix + rows * width
    q, k, v, q_rot, k_rot = (torch.randn(2, tokens, 3, 8) for _ in range(5))  # [B, T, heads, d]
    cell = torch.arange(tokens) >= prefix
    both_cells = (cell[:, None] & cell[None, :])[None, None]  # [1, 1, T, T]
    rotated, unrotated = (torch.einsum("bihd,bjhd->bhij", a, b) / 8**0.5 for a, b in ((q_rot, k_rot), (q, k)))
    scores = torch.where(both_cells, rotated, unrotated)
    mask = neighbour_mask(torch.arange(rows * width), width, prefix)
    dense = torch.einsum("bhij,bjhd->bihd", scores.masked_fill(~mask, float("-inf")).softmax(-1), v)
    stencil = neighbour_attention(q_rot, k_rot, v, off_grid_keys(rows, width), prefix, plain=(q, k))
    torch.testing.assert_close(stencil, dense, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("free", [True, False])
def test_a_position_free_prefix_model_answers_a_maze_the_same_anywhere_on_the_canvas(free: bool) -> None:
    """A maze moved across the canvas (walls all round, far from its edges) gets the same logits with
    `position_free_prefix`; with rotary positions between the prefix token and the cells, a cell's view of
    the prefix depends on where it sits, and the logits differ (the shipped model: reached 22% of 21x21 mazes at
    the top-left, 8% moved 9 cells down and right; weights/maze/README.md)."""
    import torch

    from trmsolve.config import ModelConfig
    from trmsolve.network import build_model

    torch.manual_seed(0)
    config = ModelConfig(
        seq_len=900, vocab_size=6, hidden_size=32, num_heads=2, puzzle_emb_ndim=32, H_cycles=1, L_cycles=1,
        neighbour_attention=True, position_free_prefix=free,
    )  # fmt: skip
    model = build_model(config).eval()
    with torch.no_grad():
        model.puzzle_emb.weights.normal_()  # zero-initialised: a zero prefix token scores 0 anywhere
    maze = np.where(np.random.default_rng(0).random((5, 5)) < 0.3, WALL, OPEN)
    maze[0, 0], maze[4, 4] = START, GOAL
    logits = []
    for row, col in ((4, 4), (17, 20)):
        canvas = np.full((30, 30), WALL)
        canvas[row : row + 5, col : col + 5] = maze
        inputs = torch.from_numpy(CHAR_TO_TOKEN[canvas.reshape(1, 900)])
        with torch.no_grad():
            out = model(model.initial_carry(1), inputs, torch.zeros(1, dtype=torch.long))
        logits.append(out.logits[0].view(30, 30, -1)[row : row + 5, col : col + 5])
    difference = (logits[0] - logits[1]).abs().max().item()
    assert difference < 1e-4 if free else difference > 1e-3


def test_bfloat16_on_a_cpu_takes_the_stencil_at_every_size() -> None:
    """In float32 a small crop runs masked dense attention; in bfloat16 on a CPU (weights or autocast, as
    training runs) the masked kernel is the slow one and the stencil runs (benchmarks/bench_neighbour.py). A
    position-free model (the bundled one) takes the stencil at every size and dtype: only it scores the prefix
    without positions."""
    from dataclasses import replace

    import torch

    from trmsolve.models import load_model
    from trmsolve.network import build_model

    cells = torch.arange(9)[:, None] * 30 + torch.arange(9)[None, :]  # a 9x9 crop: 82 tokens
    bundled = load_model("maze", dtype="float32")
    assert bundled.config.position_free_prefix and bundled.layout(cells.reshape(-1)).stencil is not None
    model = build_model(replace(bundled.config, position_free_prefix=False)).eval()
    assert model.layout(cells.reshape(-1)).stencil is None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert model.layout(cells.reshape(-1)).stencil is not None
    assert model.to(torch.bfloat16).layout(cells.reshape(-1)).stencil is not None


def test_neighbour_attention_moves_information_one_cell_per_block() -> None:
    """With neighbour attention one block sees only the four neighbours, so after the two-layer network a
    change of one cell reaches cells two steps away and no further (no prefix token: no global channel)."""
    import torch

    from trmsolve.config import ModelConfig
    from trmsolve.network import build_model

    torch.manual_seed(0)
    config = ModelConfig(seq_len=36, vocab_size=6, hidden_size=32, num_heads=2, neighbour_attention=True)
    model = build_model(config).eval()
    inputs = torch.from_numpy(CHAR_TO_TOKEN[np.full((1, 36), OPEN)])
    changed = inputs.clone()
    changed[0, 0] = int(CHAR_TO_TOKEN[WALL])  # top-left corner of the 6x6 grid
    layout = model.layout(None)
    with torch.no_grad():
        before, after = (model.L_level(model.initial_carry(1).z_L, model.embed(x), layout) for x in (inputs, changed))
    moved = (before - after).abs().amax(-1)[0].view(6, 6) > 1e-6
    distance = torch.arange(6)[:, None] + torch.arange(6)[None, :]
    assert torch.equal(moved, distance <= 2)
    with pytest.raises(ValueError, match="square"):
        ModelConfig(seq_len=35, neighbour_attention=True).check()
