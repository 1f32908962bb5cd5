"""Maze training data: generators, the Maze-Hard CSV layout, token loading and dihedral augmentation.

Several generators, so that a model learns to find paths rather than one algorithm's texture:
- "dfs", "prim", "kruskal", "wilson": perfect mazes (exactly one path between any two cells) on a lattice
  of 1-cell corridors and 1-cell walls; long winding corridors (dfs), many short dead ends (prim),
  in between (kruskal), uniform over all spanning trees (wilson).
- "rooms": a perfect maze of a random one of those four with extra walls knocked out (loops) and a few
  rectangular rooms cleared.
- "organic": a perfect maze grown cell by cell with no lattice: corridors turn anywhere, walls of any
  thickness.
- "obstacles": no corridors at all: an open field with 15-30% of its cells walled at random (the largest
  open region is kept), the kind of grid path-finding benchmarks use.

Cellular-automaton caves were tried and left out: their open chambers give nearly every pair of cells
several shortest paths; from a random start, the longest unique one is typically 8-17 steps.

S is a random open cell and G a random cell reached from S by exactly one shortest path at least
`min_path` steps away (when no cell qualifies, G's search restarts from the cell farthest from S, and
then the maze is redrawn). So every answer is the unique shortest path and no maze is edited after the
fact: mending ties by adding walls would put tell-tale walls along the answer.

Every row is a 30x30 canvas, as in the published data: a smaller maze sits at the top-left and the rest
is wall. Path length and rating are counted in steps from S to G (path cells + 1). Row i depends only on
(seed, i), so any slice of a data set can be regenerated, or generated in parallel.
"""

from __future__ import annotations

import csv
import hashlib
import math
import random
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np

from trmsolve.data.csvfile import HEADER
from trmsolve.errors import PuzzleParseError
from trmsolve.kinds.arc_grids import dihedral_transform
from trmsolve.kinds.maze import (
    CANVAS,
    CHAR_TO_TOKEN,
    GOAL,
    OPEN,
    PATH,
    START,
    WALL,
    bfs,
    place_on_canvas,
    trace_back,
)

SYMMETRIES = ("dihedral",)  # what `augment` trains with: the eight rotations and reflections
QUESTION_TOKEN = int(CHAR_TO_TOKEN[OPEN])  # input token of the cells the answer decides (path or not)
PERFECT = ("dfs", "prim", "kruskal", "wilson")
ALGORITHMS = (*PERFECT, "rooms", "organic", "obstacles")
HARD_ALGORITHMS = ("dfs", "kruskal", "wilson", "organic")  # the ones whose 30x30 mazes often have paths > 110
HARD_PATH = 110  # Maze-Hard keeps mazes whose shortest path is longer than this
SMALL_SIDES = (5, 27)  # side lengths of the smaller mazes; a 30x30 maze's open area spans >= 28 cells
TIERS = {
    "small": "smaller than 30x30, placed on the canvas",
    "30x30": f"30x30, shortest path <= {HARD_PATH} steps",
    "hard": f"30x30, shortest path > {HARD_PATH} steps (as Maze-Hard)",
}

Edge = tuple[int, int]


class MazeRow(NamedTuple):
    source: str  # generator and size, e.g. "prim 11x15"
    question: str  # 900 chars, the canvas row-major
    answer: str
    rating: int  # shortest path length in steps


# --- perfect mazes on a lattice: cell k sits at grid (oy + 2 * (k // cols), ox + 2 * (k % cols)) ---


def _adjacency(rows: int, cols: int) -> list[list[int]]:
    """The lattice neighbours of each cell."""
    adj = []
    for k in range(rows * cols):
        r, c = divmod(k, cols)
        steps = ((-cols, r > 0), (-1, c > 0), (1, c < cols - 1), (cols, r < rows - 1))
        adj.append([k + step for step, ok in steps if ok])
    return adj


def _dfs(adj: list[list[int]], rnd: random.Random) -> list[Edge]:
    """Recursive backtracker: walk to a random unvisited neighbour, back up at dead ends."""
    visited = [False] * len(adj)
    stack = [rnd.randrange(len(adj))]
    visited[stack[0]] = True
    edges = []
    while stack:
        options = [v for v in adj[stack[-1]] if not visited[v]]
        if not options:
            stack.pop()
            continue
        v = rnd.choice(options)
        visited[v] = True
        edges.append((stack[-1], v))
        stack.append(v)
    return edges


def _prim(adj: list[list[int]], rnd: random.Random) -> list[Edge]:
    """Randomized Prim: grow the tree through a random edge of its frontier."""
    start = rnd.randrange(len(adj))
    in_tree = [False] * len(adj)
    in_tree[start] = True
    frontier = [(start, v) for v in adj[start]]
    edges = []
    while frontier:
        i = rnd.randrange(len(frontier))
        frontier[i], frontier[-1] = frontier[-1], frontier[i]
        a, b = frontier.pop()
        if not in_tree[b]:
            in_tree[b] = True
            edges.append((a, b))
            frontier.extend((b, v) for v in adj[b] if not in_tree[v])
    return edges


def _kruskal(adj: list[list[int]], rnd: random.Random) -> list[Edge]:
    """Randomized Kruskal: open lattice edges in random order unless they would close a loop."""
    parent = list(range(len(adj)))

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    candidates = [(a, b) for a in range(len(adj)) for b in adj[a] if a < b]
    rnd.shuffle(candidates)
    edges = []
    for a, b in candidates:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[ra] = rb
            edges.append((a, b))
    return edges


def _wilson(adj: list[list[int]], rnd: random.Random) -> list[Edge]:
    """Wilson: loop-erased random walks, a uniformly random spanning tree."""
    in_tree = [False] * len(adj)
    in_tree[rnd.randrange(len(adj))] = True
    order = list(range(len(adj)))
    rnd.shuffle(order)
    edges = []
    for cell in order:
        step = {}
        k = cell
        while not in_tree[k]:  # overwriting the exit of a revisited cell erases the loop
            step[k] = rnd.choice(adj[k])
            k = step[k]
        k = cell
        while not in_tree[k]:
            in_tree[k] = True
            edges.append((k, step[k]))
            k = step[k]
    return edges


_CARVE: dict[str, Callable[[list[list[int]], random.Random], list[Edge]]] = {
    "dfs": _dfs,
    "prim": _prim,
    "kruskal": _kruskal,
    "wilson": _wilson,
}


def _lattice_maze(algorithm: str, h: int, w: int, rnd: random.Random) -> np.ndarray | None:
    """A perfect maze (or for "rooms" a loopy one with rooms) as an HxW bool array of open cells."""
    oy, ox = rnd.randrange(2), rnd.randrange(2)  # with or without a wall along the top / left edge
    rows, cols = (h - oy + 1) // 2, (w - ox + 1) // 2
    if rows < 2 or cols < 2:
        return None
    adj = _adjacency(rows, cols)
    edges = _CARVE[rnd.choice(PERFECT) if algorithm == "rooms" else algorithm](adj, rnd)
    if algorithm == "rooms":
        tree = {(min(e), max(e)) for e in edges}
        extra = [(a, b) for a in range(len(adj)) for b in adj[a] if a < b and (a, b) not in tree]
        edges += rnd.sample(extra, round(rnd.uniform(0.05, 0.25) * len(extra)))
    grid = np.zeros((h, w), bool)
    for a, b in edges:
        (ya, xa), (yb, xb) = divmod(a, cols), divmod(b, cols)
        grid[oy + ya + yb, ox + xa + xb] = True  # the wall slot between the two cells
    grid[oy::2, ox::2][:rows, :cols] = True
    if algorithm == "rooms":
        for _ in range(rnd.randint(1, 3)):
            top, left = rnd.randrange(rows - 1), rnd.randrange(cols - 1)
            bottom, right = min(rows - 1, top + rnd.randint(1, 3)), min(cols - 1, left + rnd.randint(1, 3))
            grid[oy + 2 * top : oy + 2 * bottom + 1, ox + 2 * left : ox + 2 * right + 1] = True
    return grid


def _organic(h: int, w: int, rnd: random.Random) -> np.ndarray:
    """A perfect maze grown cell by cell off any lattice: corridors turn anywhere, walls vary in thickness.

    A growing tree: extend the newest corridor end (or, at a per-maze rate, a random one) into a wall
    cell whose other neighbours and far diagonals are all wall, so corridors never touch and never loop.
    """
    width = w + 2  # a frame of wall around the maze spares bounds checks
    inside = np.zeros((h + 2, width), bool)
    inside[1:-1, 1:-1] = True
    inside = inside.ravel().tolist()
    is_open = [False] * len(inside)
    start = (rnd.randrange(h) + 1) * width + rnd.randrange(w) + 1
    is_open[start] = True
    active = [start]
    newest = rnd.uniform(0.5, 1.0)
    # per step: the cell it opens, then the cells that must still be wall (ahead, its sides, ahead's sides)
    moves = []
    for step in (-width, -1, 1, width):
        side = width if abs(step) == 1 else 1
        moves.append((step, 2 * step, step + side, step - side, 2 * step + side, 2 * step - side))
    while active:
        i = len(active) - 1 if rnd.random() < newest else rnd.randrange(len(active))
        a = active[i]
        options = [
            a + s
            for s, ahead, s1, s2, a1, a2 in moves
            if inside[a + s]
            and not (
                is_open[a + s]
                or is_open[a + ahead]
                or is_open[a + s1]
                or is_open[a + s2]
                or is_open[a + a1]
                or is_open[a + a2]
            )
        ]
        if options:
            cell = rnd.choice(options)
            is_open[cell] = True
            active.append(cell)
        else:
            del active[i]  # keeps the newest last
    return np.array(is_open).reshape(h + 2, width)[1:-1, 1:-1]


def _obstacles(h: int, w: int, rnd: random.Random) -> np.ndarray | None:
    """An open field with random wall cells; the largest 4-connected open region (None if it is tiny)."""
    density = rnd.uniform(0.15, 0.3)
    field = np.array([[rnd.random() >= density for _ in range(w)] for _ in range(h)])
    region = np.zeros((h, w), np.int32)
    sizes = [0]
    for cell in map(tuple, np.argwhere(field)):
        if region[cell]:
            continue
        sizes.append(0)
        stack = [cell]
        region[cell] = len(sizes) - 1
        while stack:
            y, x = stack.pop()
            sizes[-1] += 1
            for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ny, nx = y + dy, x + dx
                if 0 <= ny < h and 0 <= nx < w and field[ny, nx] and not region[ny, nx]:
                    region[ny, nx] = region[y, x]
                    stack.append((ny, nx))
    best = int(np.argmax(sizes))
    return region == best if sizes[best] >= 4 else None


def _spans(open_cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns spanned by the open cells (of one grid, or per example of a [N, h, w] stack)."""
    rows, cols = open_cells.any(axis=-1), open_cells.any(axis=-2)

    def span(any_: np.ndarray) -> np.ndarray:
        n = any_.shape[-1]
        return np.where(any_.any(axis=-1), n - any_[..., ::-1].argmax(axis=-1) - any_.argmax(axis=-1), 0)

    return span(rows), span(cols)


def _endpoints(
    open_cells: np.ndarray, min_path: int, rnd: random.Random, ties: bool = False
) -> tuple[tuple, tuple, np.ndarray] | None:
    """S, G (G at least `min_path` steps away, by a unique shortest path unless `ties`) and the distances from S."""
    cells = np.argwhere(open_cells)
    start = tuple(int(i) for i in cells[rnd.randrange(len(cells))])
    for _ in range(2):
        dist, ways = bfs(open_cells, start)
        goals = np.argwhere(((ways >= 1) if ties else (ways == 1)) & (dist >= max(min_path, 1)))
        if len(goals):
            return start, tuple(int(i) for i in goals[rnd.randrange(len(goals))]), dist
        start = tuple(int(i) for i in np.unravel_index(dist.argmax(), dist.shape))  # farthest cell
    return None


def generate_one(
    algorithm: str, h: int, w: int, min_path: int, rnd: random.Random, ties: bool = False
) -> MazeRow | None:
    """One maze of `algorithm` and size hxw, or None when this draw cannot meet the conditions."""
    if algorithm == "organic":
        open_cells = _organic(h, w, rnd)
    elif algorithm == "obstacles":
        open_cells = _obstacles(h, w, rnd)
    else:
        open_cells = _lattice_maze(algorithm, h, w, rnd)
    if open_cells is None:
        return None
    if (h, w) == (CANVAS, CANVAS) and min(_spans(open_cells)) <= SMALL_SIDES[1]:
        return None  # would look like a small maze to `tiers`
    found = _endpoints(open_cells, min_path, rnd, ties)
    if found is None:
        return None
    start, goal, dist = found
    grid = np.where(open_cells, OPEN, WALL).astype(np.uint8)
    grid[start], grid[goal] = START, GOAL
    answer = grid.copy()
    for cell in trace_back(dist, goal):
        answer[cell] = PATH
    question, answer = (place_on_canvas(g).tobytes().decode() for g in (grid, answer))
    return MazeRow(f"{algorithm} {h}x{w}", question, answer, int(dist[goal]))


def generate(
    n: int,
    seed: int,
    *,
    algorithms: Iterable[str] | None = None,
    min_path: int = 1,
    small_share: float = 0.25,
    small_sides: tuple[int, int] = SMALL_SIDES,
    max_tries: int = 200,
    ties: bool = False,
) -> Iterator[MazeRow]:
    """`n` mazes, the algorithms taking turns; `min_path=HARD_PATH + 1, small_share=0` is Maze-Hard-like.

    `algorithms` defaults to ALGORITHMS (without "obstacles" when `min_path` is above 12), or HARD_ALGORITHMS
    when `min_path` asks for hard mazes. A
    `small_share` of the mazes get random sides in `small_sides` (a curriculum starts small). Raises
    ValueError when an algorithm cannot make a qualifying maze in `max_tries` draws. `ties`: G may be reached by
    several shortest paths (open fields with long paths always have some); the answer is the one `trace_back`
    draws, and `augment` redraws it in each transform's own frame, so the rule a model learns for ties is one.
    """
    if algorithms is None:  # open fields rarely have a unique shortest path longer than a dozen steps
        algorithms = HARD_ALGORITHMS if min_path > HARD_PATH else ALGORITHMS if min_path <= 12 else ALGORITHMS[:-1]
    algorithms = tuple(algorithms)
    if not SMALL_SIDES[0] <= small_sides[0] <= small_sides[1] <= SMALL_SIDES[1]:
        raise ValueError(f"small sides must lie within {SMALL_SIDES[0]}..{SMALL_SIDES[1]}, got {small_sides}")
    unknown = set(algorithms) - set(ALGORITHMS)
    if unknown or not algorithms:
        raise ValueError(f"unknown maze algorithms {sorted(unknown)} (known: {', '.join(ALGORITHMS)})")
    for i in range(n):
        rnd = random.Random(f"trmsolve-maze:{seed}:{i}")
        algorithm = algorithms[i % len(algorithms)]
        small = rnd.random() < small_share
        h, w = (rnd.randint(*small_sides), rnd.randint(*small_sides)) if small else (CANVAS, CANVAS)
        for _ in range(max_tries):
            row = generate_one(algorithm, h, w, min_path, rnd, ties)
            if row is not None:
                yield row
                break
        else:
            raise ValueError(
                f"{algorithm} made no {h}x{w} maze with a {'' if ties else 'unique '}shortest path of {min_path}+ "
                f"steps in {max_tries} tries"
            )


def load_tokens(csv_path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inputs int64[N, 900], labels int64[N, 900], ratings int64[N]) from a Maze-Hard layout CSV.

    Every question and answer must be a full 30x30 canvas (as `generate` and the published data write
    them). Raises PuzzleParseError naming the first bad row.
    """
    source = str(csv_path)
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = [name.strip().lower() for name in next(reader, [])]
        missing = [name for name in HEADER[1:] if name not in header]
        if missing:
            raise PuzzleParseError(f"CSV header lacks {', '.join(missing)}", source, 1)
        columns = [header.index(name) for name in HEADER[1:]]
        table = [[row[i] for i in columns] for row in reader if row]
    questions, answers, ratings = zip(*table, strict=True) if table else ((), (), ())

    def tokens(cells: tuple[str, ...], what: str) -> np.ndarray:
        for i, text in enumerate(cells):
            if len(text) != CANVAS * CANVAS:
                raise PuzzleParseError(f"{what} has {len(text)} cells, expected {CANVAS * CANVAS}", source, i + 2)
        ids = CHAR_TO_TOKEN[np.frombuffer("".join(cells).encode("ascii", "replace"), np.uint8)]
        ids = ids.reshape(len(cells), CANVAS * CANVAS)
        bad = (ids == 0).any(axis=1)
        if bad.any():
            raise PuzzleParseError(f"{what} holds characters outside '# SGo'", source, int(bad.argmax()) + 2)
        return ids

    for i, rating in enumerate(ratings):
        if not rating.strip().lstrip("-").isdigit():
            raise PuzzleParseError(f"rating {rating!r} is not a whole number", source, i + 2)
    return tokens(questions, "question"), tokens(answers, "answer"), np.array(ratings, dtype=np.int64)


@lru_cache(maxsize=4)
def dihedral_gathers(side: int) -> np.ndarray:
    """[8, side*side] gather indices of the eight dihedral transforms of a square (ids as published)."""
    cells = np.arange(side * side).reshape(side, side)
    return np.stack([dihedral_transform(cells, k).ravel() for k in range(8)])


def augment(inputs: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each example's input and label under one random dihedral transform of its square: the 30x30 canvas,
    or the top-left square a canvas-cropped model trains on. A maze with several shortest paths gets its path
    redrawn in the transform's frame (`traced_labels`)."""
    gathers = dihedral_gathers(math.isqrt(inputs.shape[1]))
    gather = gathers[rng.integers(0, len(gathers), len(inputs))]
    tied = np.flatnonzero([_tied(question) for question in inputs])  # before the transform: one entry a maze
    inputs, labels = np.take_along_axis(inputs, gather, axis=1), np.take_along_axis(labels, gather, axis=1)
    return inputs, traced_labels(inputs, labels, tied)


def traced_labels(inputs: np.ndarray, labels: np.ndarray, rows: Iterable[int] | None = None) -> np.ndarray:
    """`labels` with the path of each of `rows` (default: all) redrawn by `trace_back` in the frame the model
    sees. A maze with one shortest path keeps its label; one with several (`generate(ties=True)`) gets the path
    the rule picks in this frame, where a transformed label would teach a different rule for ties in each
    transform."""
    side = math.isqrt(inputs.shape[1])
    path_token, open_token = CHAR_TO_TOKEN[PATH], CHAR_TO_TOKEN[OPEN]
    redrawn = labels.copy()
    for row in range(len(inputs)) if rows is None else rows:
        found = _searched(inputs[row])
        if found is None:
            continue  # the maze's S or G lies outside the cropped square: nothing to trace
        dist, _, goal = found
        cells = redrawn[row].reshape(side, side)
        cells[cells == path_token] = open_token
        for cell in trace_back(dist, goal):
            cells[cell] = path_token
    return redrawn


_TIED: dict[bytes, bool] = {}  # a maze's digest -> whether several shortest paths reach G (no transform changes it)


def _tied(question: np.ndarray) -> bool:
    """Whether several shortest paths reach G in this maze's tokens: searched once per maze, then remembered, so
    that a batch of mazes with one shortest path each costs `augment` a digest a row, not a search."""
    key = hashlib.blake2b(question.tobytes(), digest_size=16).digest()
    if key not in _TIED:
        found = _searched(question)
        if found is None:
            _TIED[key] = False
        else:
            _, ways, goal = found
            _TIED[key] = bool(ways[goal] >= 2)
    return _TIED[key]


def _searched(question: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, int]] | None:
    """`bfs` from S over a square of tokens, and G: (distances, number of shortest paths, G); None without one S
    and one G."""
    side = math.isqrt(question.shape[0])
    grid = question.reshape(side, side)
    starts, goals = np.argwhere(grid == CHAR_TO_TOKEN[START]), np.argwhere(grid == CHAR_TO_TOKEN[GOAL])
    if len(starts) != 1 or len(goals) != 1:
        return None
    dist, ways = bfs(grid != CHAR_TO_TOKEN[WALL], tuple(starts[0]))
    return dist, ways, tuple(goals[0])


def tiers(inputs: np.ndarray, ratings: np.ndarray) -> np.ndarray:
    """The difficulty tier (a key of TIERS) of each example, from its tokens and rating.

    Size is read off the canvas: a maze whose open cells span at most SMALL_SIDES[1] rows or columns is
    "small", wherever a transform has moved it.
    """
    open_cells = inputs.reshape(-1, CANVAS, CANVAS) != CHAR_TO_TOKEN[WALL]
    small = np.minimum(*_spans(open_cells)) <= SMALL_SIDES[1]
    return np.where(small, "small", np.where(np.asarray(ratings) > HARD_PATH, "hard", "30x30"))
