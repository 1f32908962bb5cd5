"""The ARC builder against the published builder's own output, and its token and augmentation helpers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from trmsolve.arc.builder import build_arc_dataset
from trmsolve.kinds.arc_grids import (
    Augmentation,
    apply_colour_permutation,
    dihedral_transform,
    grid_from_json,
    grid_hash,
    grid_to_tokens,
    inverse_dihedral_transform,
    invert_colour_permutation,
    parse_identifier,
    tokens_to_grid,
)

FIXTURE = Path(__file__).parent / "fixtures" / "arc_builder"  # copied from ../shared/fixtures/arc_builder
EXPECTED = FIXTURE / "expected"


def _files(root: Path) -> list[str]:
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_rebuild_gives_the_published_bytes(tmp_path: Path) -> None:
    config = json.loads((FIXTURE / "builder_config.json").read_text())
    report = build_arc_dataset(
        FIXTURE / config["input_file_prefix"],
        tmp_path,
        config["subsets"],
        config["test_set_name"],
        test_set_name2=config["test_set_name2"],
        seed=config["seed"],
        num_aug=config["num_aug"],
        puzzle_identifiers_start=config["puzzle_identifiers_start"],
    )
    assert _files(tmp_path) == _files(EXPECTED)
    for name in _files(EXPECTED):
        assert (tmp_path / name).read_bytes() == (EXPECTED / name).read_bytes(), f"{name} differs"
    assert report.num_identifiers == len(json.loads((EXPECTED / "identifiers.json").read_text()))
    assert report.short_augmentations == {}


def test_build_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    np.random.seed(7)
    expected = np.random.rand()
    np.random.seed(7)
    build_arc_dataset(FIXTURE / "input/arc-agi", tmp_path, ["evaluation"], "evaluation", num_aug=2)
    assert np.random.rand() == expected


def test_missing_solutions_fill_test_outputs_and_no_aug_keeps_plain_names(tmp_path: Path) -> None:
    task = {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[3]]}]}
    (tmp_path / "x_hidden_challenges.json").write_text(json.dumps({"t1": task}))
    build_arc_dataset(tmp_path / "x", tmp_path / "out", ["hidden"], "hidden", num_aug=0)
    assert json.loads((tmp_path / "out" / "test_puzzles.json").read_text())["t1"]["test"] == [
        {"input": [[3]], "output": [[0]]}
    ]
    assert json.loads((tmp_path / "out" / "identifiers.json").read_text()) == ["<blank>", "t1"]


def test_malformed_task_is_named(tmp_path: Path) -> None:
    task = {"train": [{"input": [[1, 2], [3]], "output": [[2]]}], "test": [{"input": [[3]]}]}
    (tmp_path / "x_s_challenges.json").write_text(json.dumps({"bad1": task}))
    with pytest.raises(ValueError, match="task bad1, train example 0: grid rows differ"):
        build_arc_dataset(tmp_path / "x", tmp_path / "out", ["s"], "other", num_aug=0)


def test_published_test_split_decodes_back_to_the_task() -> None:
    """Tokens, identifier parsing and inverse augmentation together undo what the published builder did."""
    identifiers = json.loads((EXPECTED / "identifiers.json").read_text())
    tasks = json.loads((EXPECTED / "test_puzzles.json").read_text())
    arrays = {key: np.load(EXPECTED / "test" / f"all__{key}.npy") for key in ("inputs", "labels")}
    indices = np.load(EXPECTED / "test" / "all__puzzle_indices.npy")
    numbers = np.load(EXPECTED / "test" / "all__puzzle_identifiers.npy")
    seen_transforms = set()
    for puzzle, number in enumerate(numbers):
        version = parse_identifier(identifiers[number])
        seen_transforms.add(version.trans_id)
        for index, row in enumerate(range(indices[puzzle], indices[puzzle + 1])):
            example = tasks[version.task]["test"][index]
            for key, field in (("inputs", "input"), ("labels", "output")):
                grid = version.invert(tokens_to_grid(arrays[key][row]))
                np.testing.assert_array_equal(grid, np.array(example[field]))
    assert len(seen_transforms) > 4


GRID = np.array([[1, 2, 3], [4, 5, 6]])
TRANSFORMED = [
    [[1, 2, 3], [4, 5, 6]],
    [[3, 6], [2, 5], [1, 4]],  # rot90 once (counter-clockwise)
    [[6, 5, 4], [3, 2, 1]],
    [[4, 1], [5, 2], [6, 3]],
    [[3, 2, 1], [6, 5, 4]],  # fliplr
    [[4, 5, 6], [1, 2, 3]],  # flipud
    [[1, 4], [2, 5], [3, 6]],  # transpose
    [[6, 3], [5, 2], [4, 1]],  # fliplr(rot90)
]


@pytest.mark.parametrize("trans_id", range(8))
def test_dihedral_transforms_and_inverses(trans_id: int) -> None:
    np.testing.assert_array_equal(dihedral_transform(GRID, trans_id), TRANSFORMED[trans_id])
    np.testing.assert_array_equal(inverse_dihedral_transform(np.array(TRANSFORMED[trans_id]), trans_id), GRID)
    grid = np.random.default_rng(trans_id).integers(0, 10, (4, 7))
    np.testing.assert_array_equal(dihedral_transform(inverse_dihedral_transform(grid, trans_id), trans_id), grid)


def test_bad_transform_id() -> None:
    with pytest.raises(ValueError, match=r"0\.\.7"):
        dihedral_transform(GRID, 8)


def test_colour_permutation_and_inverse() -> None:
    perm = (0, 3, 1, 2, 4, 5, 6, 7, 9, 8)
    assert invert_colour_permutation(perm) == (0, 2, 3, 1, 4, 5, 6, 7, 9, 8)
    np.testing.assert_array_equal(apply_colour_permutation(np.array([[1, 8], [0, 3]]), perm), [[3, 9], [0, 2]])
    grid = np.arange(10).reshape(2, 5)
    np.testing.assert_array_equal(
        apply_colour_permutation(apply_colour_permutation(grid, perm), invert_colour_permutation(perm)), grid
    )


def test_augmentation_roundtrip() -> None:
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 10, (5, 3)).astype(np.uint8)
    for trans_id in range(8):
        version = Augmentation("task", trans_id, (0, *(int(c) for c in rng.permutation(9) + 1)))
        np.testing.assert_array_equal(version.invert(version.apply(grid)), grid)


def test_parse_identifier() -> None:
    assert parse_identifier("007bbfb7|||t4|||0481963275") == ("007bbfb7", 4, (0, 4, 8, 1, 9, 6, 3, 2, 7, 5))
    assert parse_identifier("007bbfb7") == ("007bbfb7", 0, tuple(range(10)))
    for name in json.loads((EXPECTED / "identifiers.json").read_text())[1:]:
        assert parse_identifier(name).name == name


@pytest.mark.parametrize(
    "name",
    ["a|||t8|||0123456789", "a|||t1|||012345678", "a|||t1|||0123456788", "a|||x1|||0123456789", "a|||t1"],
)
def test_parse_identifier_rejects(name: str) -> None:
    with pytest.raises(ValueError, match="not an ARC puzzle identifier"):
        parse_identifier(name)


def test_grid_to_tokens_layout() -> None:
    canvas = grid_to_tokens(np.array([[0, 1, 2], [3, 4, 5]], dtype=np.uint8)).reshape(30, 30)
    expected = np.zeros((30, 30), dtype=np.uint8)
    expected[:2, :3] = [[2, 3, 4], [5, 6, 7]]
    expected[2, :3] = 1  # EOS row under the columns
    expected[:2, 3] = 1  # EOS column beside the rows; the corner stays PAD
    np.testing.assert_array_equal(canvas, expected)
    shifted = grid_to_tokens(np.array([[0, 1, 2], [3, 4, 5]]), offset=(1, 27)).reshape(30, 30)
    np.testing.assert_array_equal(shifted[1:4, 27:], expected[:3, :3])  # no room for the EOS column
    assert shifted.sum() == expected[:3, :3].sum()
    assert 1 not in grid_to_tokens(np.zeros((30, 30), dtype=np.uint8))
    with pytest.raises(ValueError, match="does not fit"):
        grid_to_tokens(np.zeros((2, 2), dtype=np.uint8), offset=(29, 0))


@pytest.mark.parametrize("shape", [(1, 1), (30, 30), (30, 1), (3, 17)])
def test_tokens_roundtrip(shape: tuple[int, int]) -> None:
    grid = np.random.default_rng(1).integers(0, 10, shape).astype(np.uint8)
    decoded = tokens_to_grid(grid_to_tokens(grid))
    assert decoded.dtype == np.uint8
    np.testing.assert_array_equal(decoded, grid)


def _reference_crop(tokens: np.ndarray) -> tuple[int, int]:
    """Brute force: the first (in row order) largest top-left rectangle holding only colour tokens."""
    is_colour = (tokens.reshape(30, 30) >= 2) & (tokens.reshape(30, 30) <= 11)
    best, size = 0, (0, 0)
    for rows in range(1, 31):
        cols = max(c for c in range(31) if is_colour[:rows, :c].all())
        if rows * cols > best:
            best, size = rows * cols, (rows, cols)
    return size


def test_tokens_to_grid_crops_like_the_published_evaluator() -> None:
    rng = np.random.default_rng(2)
    for _ in range(50):
        canvas = rng.integers(2, 12, (30, 30))
        holes = rng.integers(1, 60)  # PAD or EOS tokens scattered over a colour canvas
        canvas[rng.integers(0, 30, holes), rng.integers(0, 30, holes)] = rng.integers(0, 2, holes)
        grid = tokens_to_grid(canvas.reshape(-1))
        assert grid.shape == _reference_crop(canvas)
        np.testing.assert_array_equal(grid, canvas[: grid.shape[0], : grid.shape[1]] - 2)
    assert tokens_to_grid(np.zeros(900, dtype=np.int64)).shape == (0, 0)


def test_grid_hash_depends_on_shape_not_dtype() -> None:
    assert grid_hash(np.array([[1, 2]], dtype=np.int64)) == grid_hash(np.array([[1, 2]], dtype=np.uint8))
    assert grid_hash(np.array([[1, 2]])) != grid_hash(np.array([[1], [2]]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "non-empty list of rows"),
        ([[]], "empty grid"),
        ([[1, 2], [3]], "rows differ"),
        ([[10]], "integers 0..9"),
        ([[-1]], "integers 0..9"),
        ([[True]], "integers 0..9"),
        ([[1.0]], "integers 0..9"),
        ([[0] * 31], "each side must be 1..30"),
    ],
)
def test_grid_from_json_rejects(value: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        grid_from_json(value)
