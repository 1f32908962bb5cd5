"""`--record` and `--json-steps`: the steps `--trace` shows, kept as an animation, a page or a still, for every kind,
made by the real CLI with the bundled models; the page is driven in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from conftest import EXAMPLES_DIR, TRMSOLVE

from trmsolve import load_model
from trmsolve.kinds import Picture, get_kind
from trmsolve.recording import Recording, record, save
from trmsolve.recording.images import Layout
from trmsolve.solver import read_inputs

Image = pytest.importorskip("PIL.Image", reason="animations need Pillow (pip install 'trmsolve[record]')")

# A hard puzzle (magictour top95 #1) the bundled model solves in a few steps, so its recording has several frames.
HARD_SUDOKU = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"


def cli(*args: object, check: int | None = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([TRMSOLVE, *map(str, args)], capture_output=True, text=True, timeout=600)
    if check is not None:
        assert done.returncode == check, done.stderr[-2000:]
    return done


def frames_of(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for number in range(image.n_frames):
            image.seek(number)
            frames.append(np.asarray(image.convert("RGB")))
        return frames


def cell_colours(frame: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The fill colour of each cell of a drawn grid, read near the cell's top-left corner (clear of its label
    and of a changed cell's outline), as '#rrggbb'."""
    layout = Layout.of([Picture(np.zeros(shape, int), np.full(shape, ""))])
    colours = np.empty(shape, object)
    for r in range(shape[0]):
        for c in range(shape[1]):
            x, y, _, _ = layout.cell_box(r, c)
            colours[r, c] = "#{:02x}{:02x}{:02x}".format(*frame[y + 4, x + 4])
    return colours


def fills(recording_kind: str, puzzle, answer: np.ndarray) -> np.ndarray:
    kind = get_kind(recording_kind)
    picture = kind.picture(puzzle, answer)
    return np.vectorize(lambda i: kind.palette[i][0], otypes=[object])(picture.colours)


def test_a_sudoku_animation_has_a_frame_per_step_and_ends_on_the_answer(tmp_path: Path) -> None:
    gif = tmp_path / "hard.gif"
    done = cli("sudoku", HARD_SUDOKU, "--record", gif, "--json", "--json-steps")
    row = json.loads(done.stdout)
    trajectory = row["trajectory"]
    assert f"recorded: {gif}" in done.stderr
    frames = frames_of(gif)
    assert len(frames) == len(trajectory) >= 2  # one frame per step shown
    assert trajectory[-1]["last"] and trajectory[-1]["output"] == row["output"]
    assert [step["step"] for step in trajectory[:2]] == [1, 2] and not any(step["last"] for step in trajectory[:-1])
    # The final frame is the reported answer: every cell's colour is the picture of that answer.
    puzzle = next(iter(read_inputs([HARD_SUDOKU], "sudoku")))
    answer = np.array([int(d) for d in row["output"]]).reshape(9, 9)
    assert (cell_colours(frames[-1], (9, 9)) == fills("sudoku", puzzle, answer)).all()
    first = np.array([int(d) if d != "." else 0 for d in trajectory[0]["output"]]).reshape(9, 9)
    assert (cell_colours(frames[0], (9, 9)) == fills("sudoku", puzzle, first)).all()


def test_a_maze_recording_in_every_format_ends_on_the_reported_path(tmp_path: Path) -> None:
    maze = EXAMPLES_DIR / "maze" / "small.txt"
    puzzle = next(iter(read_inputs([maze], "maze")))
    row = json.loads(cli("maze", maze, "--record", tmp_path / "small.gif", "--json").stdout)
    (recording,) = record([puzzle], load_model("maze"), kind="maze")  # the same run through the library
    assert get_kind("maze").to_text(recording.answer) == row["output"]
    for suffix in (".webp", ".png", ".svg"):
        save(recording, tmp_path / f"small{suffix}")
    expected = fills("maze", puzzle, recording.answer)
    for suffix in (".gif", ".webp", ".png"):
        frames = frames_of(tmp_path / f"small{suffix}")
        assert len(frames) == row["steps"] == len(recording.frames)  # solved as given: a frame per step of its view
        assert (cell_colours(frames[-1], puzzle.grid.shape) == expected).all(), suffix
    svg = ET.parse(tmp_path / "small.svg").getroot()
    rects = [e for e in svg.iter() if e.tag.endswith("rect")][2:]  # past the background and the grid lines
    assert np.array([r.get("fill") for r in rects], object).reshape(puzzle.grid.shape).tolist() == expected.tolist()


def test_a_folder_gets_an_animation_a_puzzle_named_after_its_source(tmp_path: Path) -> None:
    folder = tmp_path / "mazes"
    cli("maze", EXAMPLES_DIR / "maze" / "several.txt", "--record", f"{folder}/", "-q")
    assert sorted(p.name for p in folder.iterdir()) == ["1_several.txt_1.gif", "2_several.txt_11.gif"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--record", "out.mp4"], "--record out.mp4: name a .gif"),
        (["--record", "out.gif"], "a .gif file holds one puzzle and there are 4"),
        (["--json-steps"], "--json-steps adds the steps to --json rows"),
    ],
)
def test_a_record_target_that_cannot_work_is_refused_before_solving(args: list[str], says: str, tmp_path: Path) -> None:
    done = cli("sudoku", EXAMPLES_DIR / "sudoku" / "collection.txt", *args, check=2)
    assert done.stderr.count("\n") == 1 and says in done.stderr and "Traceback" not in done.stderr


def test_an_animation_without_pillow_says_how_to_get_it(tmp_path: Path) -> None:
    script = (
        "import sys; sys.modules['PIL'] = None\n"
        "from trmsolve.cli import main\n"
        f"sys.argv = ['trmsolve', 'sudoku', {HARD_SUDOKU!r}, '--record', {str(tmp_path / 'x.gif')!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "pip install 'trmsolve[record]'" in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""  # said before the model ran


def test_the_library_records_and_saves(tmp_path: Path) -> None:
    puzzles = list(read_inputs([EXAMPLES_DIR / "sudoku" / "collection.txt"], "sudoku"))[:2]
    recordings = record(puzzles, load_model("sudoku"), kind="sudoku")
    assert [r.puzzle.source for r in recordings] == [p.source for p in puzzles]
    for recording in recordings:
        assert isinstance(recording, Recording) and recording.frames[-1].last and recording.verdict.valid
        assert recording.views[recording.reported] == "as given"
    assert save(recordings, tmp_path / "two.html").stat().st_size > 0
    assert save(recordings[0], tmp_path / "one.svg").read_text().startswith("<svg")
    with pytest.raises(Exception, match="holds one puzzle"):
        save(recordings, tmp_path / "two.gif")


# ------------------------------------------------------------------------------------------ in a real browser


def browser():
    """Headless Chromium through its driver, or a skip that says what is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="the page test drives Chromium with selenium")
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("no Chromium and chromedriver here (apt-get install chromium chromium-driver; .ci/run does)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def shown_cells(page) -> tuple[list[str], list[str]]:
    """The grid the page shows now: each cell's fill and label."""
    return tuple(
        page.execute_script(
            "const rects = [...document.querySelectorAll('#grid rect')].slice(1);"
            "const texts = [...document.querySelectorAll('#grid text')];"
            "return [rects.map(r => r.getAttribute('fill')), texts.map(t => t.textContent)];"
        )
    )


def expected_cells(kind_name: str, puzzle, output: str) -> tuple[list[str], list[str]]:
    kind = get_kind(kind_name)
    grid = np.array([int(d) if d != "." else 0 for d in output]).reshape(9, 9)
    picture = kind.picture(puzzle, grid)
    return [kind.palette[i][0] for i in picture.colours.ravel()], [str(x) for x in picture.labels.ravel()]


def test_the_page_works_offline_in_chromium(tmp_path: Path) -> None:
    page_file = tmp_path / "two.html"
    puzzles = tmp_path / "two.txt"
    puzzles.write_text(HARD_SUDOKU + "\n" + (EXAMPLES_DIR / "sudoku" / "easy.txt").read_text())
    rows = [json.loads(line) for line in cli("sudoku", puzzles, "--record", page_file, "--json", "--json-steps",
                                               "-k").stdout.splitlines()]  # fmt: skip
    assert not re.search(r'(src|href)="(?!data:)', page_file.read_text())  # nothing to fetch: inline only
    parsed = {p.source: p for p in read_inputs([puzzles], "sudoku")}
    page = browser()
    try:
        page.get(page_file.as_uri())
        first, hard = rows[0]["trajectory"], parsed[rows[0]["source"]]
        assert page.find_element("id", "position").text == f"frame 1 of {len(first)}"
        assert shown_cells(page) == expected_cells("sudoku", hard, first[0]["output"])
        page.execute_script(  # the slider to its end, as a person dragging it
            "const s = document.getElementById('slider'); s.value = s.max; s.dispatchEvent(new Event('input'));"
        )
        assert shown_cells(page) == expected_cells("sudoku", hard, rows[0]["output"])
        assert page.find_element("id", "info").text.startswith("✓ solved")
        reported = page.find_element("css selector", "#views li.reported").text
        assert reported.startswith(rows[0]["symmetry"]) and "passed its check" in reported
        page.execute_script("document.getElementById('slider').value = 0;"
                            "document.getElementById('slider').dispatchEvent(new Event('input'));")  # fmt: skip
        page.find_element("id", "play").click()
        deadline = time.monotonic() + 10
        while page.execute_script("return Number(document.body.dataset.frame)") < len(first) - 1:
            assert time.monotonic() < deadline, "play did not reach the last frame"
            time.sleep(0.05)
        assert page.find_element("id", "play").text == "▶ play"  # stopped at the end
        select = page.find_element("id", "puzzle")  # the second puzzle of the page
        page.execute_script("arguments[0].value = '1'; arguments[0].dispatchEvent(new Event('change'));", select)
        assert page.find_element("id", "source").text == rows[1]["source"]
        errors = [entry for entry in page.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
        assert page.execute_script("return performance.getEntriesByType('resource').length") == 0  # offline
    finally:
        page.quit()


def test_an_arc_recording_ends_on_the_vote_and_opens_in_chromium(tmp_path: Path) -> None:
    page_file, gif = tmp_path / "arc.html", tmp_path / "arc.gif"
    task = EXAMPLES_DIR / "arc" / "b1948b0a.json"
    row = json.loads(cli("arc", task, "--record", page_file, "--json", "--json-steps").stdout)
    cli("arc", task, "--record", gif, "-q")
    assert row["trajectory"][-1]["last"] and row["trajectory"][-1]["caption"].startswith("the vote's answer")
    assert row["trajectory"][-1]["output"] == row["attempts"][0] == row["output"]
    assert len(frames_of(gif)) == len(row["trajectory"])
    page = browser()
    try:
        page.get(page_file.as_uri())
        page.execute_script(
            "const s = document.getElementById('slider'); s.value = s.max; s.dispatchEvent(new Event('input'));"
        )
        assert page.find_element("id", "where").text.startswith("the vote's answer")
        assert [e for e in page.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        page.quit()


def test_the_page_escapes_what_it_embeds(tmp_path: Path) -> None:
    from trmsolve.recording.page import page

    puzzles = list(read_inputs([EXAMPLES_DIR / "sudoku" / "easy.txt"], "sudoku"))[:1]
    puzzles[0].source = "</script><script>alert(1)</script>"
    html = page(record(puzzles, load_model("sudoku"), kind="sudoku"))
    assert "</script><script>alert(1)" not in html and "<\\/script><script>alert(1)<\\/script>" in html
