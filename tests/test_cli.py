"""End to end: the real `trmsolve` CLI on the example files, with the published-format reference
checkpoints converted by `trmsolve convert`. They are untrained, so every answer is invalid: the runs
must say so and exit 1."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from conftest import FIXTURES, REFERENCE, TRMSOLVE, interruptible
from typer.testing import CliRunner

from trmsolve import __version__
from trmsolve.checkpoint import bundled_dir
from trmsolve.cli import app, emit_json
from trmsolve.solver import read_inputs

EXAMPLES = Path(__file__).parent.parent / "examples"
SUDOKU, MAZE, ARC = EXAMPLES / "sudoku", EXAMPLES / "maze", EXAMPLES / "arc"
BAD_SUDOKU, BAD_MAZE = EXAMPLES / "bad" / "sudoku.txt", EXAMPLES / "bad" / "maze.txt"
REFERENCE_FOR = {"sudoku": "trm_att_rope", "maze": "hrm_rope", "arc": "trm_att_learned_arc"}
runner = CliRunner()


def run(*args: object, input: str | None = None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def json_lines(text: str) -> list[dict]:
    assert text == "" or text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def summary_of(text: str) -> dict[str, str]:
    """The figures of the summary (the lines after "summary", as "name  value")."""
    lines = text.split("summary\n", 1)[1].splitlines()
    pairs = (line.strip().rsplit("  ", 1) for line in lines if "  " in line.strip())
    return {name.strip(): value.strip() for name, value in pairs}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The reference checkpoints in our format, made by the `convert` command."""
    out = tmp_path_factory.mktemp("models")
    paths = {}
    for kind, name in REFERENCE_FOR.items():
        config = REFERENCE / f"{name}.config.json"
        result = run("convert", REFERENCE / f"{name}.pt", "-o", out / name, "--config", config, "--json")
        assert result.exit_code == 0, result.output
        steps = json.loads(config.read_text())["arch"]["halt_max_steps"]
        report = {"output": str(out / name), "task": kind, "arch": name[:3], "default_steps": steps}
        assert json_lines(result.stdout) == [report]
        paths[kind] = out / name
    return paths


@pytest.mark.parametrize(
    ("name", "lines", "known"),
    [
        ("collection.txt", [5, 6, 8, 10], False),
        ("grids.txt", [3, 13, 24], False),
        ("puzzles.csv", [2, 3, 4, 5, 6], True),
    ],
)
def test_sudoku_formats_are_read_solved_and_honestly_failed(
    models: dict[str, Path], name: str, lines: list[int], known: bool
) -> None:
    result = run("sudoku", SUDOKU / name, "-m", models["sudoku"], "--max-steps", 2, "--json")
    assert result.exit_code == 1, result.output
    records = json_lines(result.stdout)
    assert [r["source"] for r in records] == [f"{SUDOKU / name}:{n}" for n in lines]
    for record in records:
        assert record["kind"] == "sudoku" and record["model"] == str(models["sudoku"])
        assert record["valid"] is False and record["problems"]
        assert record["correct"] is (False if known else None)
        assert 1 <= record["steps"] <= record["max_steps"] == 2
    assert result.stderr.startswith("summary\n")  # only the summary: no progress bar off a terminal
    figures = summary_of(result.stderr)
    assert (figures["puzzles"].strip(), figures["valid"].strip()) == (str(len(lines)), f"0/{len(lines)}")
    assert figures.get("correct", "n/a").strip() == (f"0/{len(lines)}" if known else "n/a")


def test_terminal_view_shows_grid_verdict_and_summary(models: dict[str, Path]) -> None:
    result = run("sudoku", SUDOKU / "grids.txt", "-m", models["sudoku"], "--max-steps", 1)
    assert result.exit_code == 1
    out = result.stdout
    assert f"{SUDOKU / 'grids.txt'}:13" in out
    assert out.count("───────┼───────┼───────") == 6  # three grids
    assert out.count("✗ ") == 3 and "solved" not in out and "conflict" in out
    figures = summary_of(out)
    assert "1/1 steps" in out and figures["puzzles"].strip() == "3" and figures["valid"].strip() == "0/3"


def test_mazes_in_every_format(models: dict[str, Path]) -> None:
    files = [MAZE / "small.txt", MAZE / "several.txt", MAZE / "maze-hard.csv"]
    result = run("maze", *files, "-m", models["maze"], "--max-steps", 1, "--json", "-b", 8)
    assert result.exit_code == 1, result.output
    records = sorted(json_lines(result.stdout), key=lambda r: r["index"])  # in the order they settled
    assert [r["index"] for r in records] == list(range(7))
    assert [r["source"].rsplit(":", 1)[0] for r in records] == [
        str(f) for f in files[:1] + files[1:2] * 2 + files[2:] * 4
    ]
    assert [r["correct"] for r in records] == [None] * 3 + [False] * 4
    small = records[0]
    assert small["input"].count("\n") == small["output"].count("\n") == 10  # the 11-row maze, cropped back
    assert all(r["valid"] is False and r["problems"] for r in records)


def test_a_bad_file_in_a_batch_is_reported_and_the_batch_goes_on(models: dict[str, Path]) -> None:
    result = run("maze", BAD_MAZE, "nowhere.txt", "-m", models["maze"], "--max-steps", 1, "--json")
    assert result.exit_code == 2
    records = json_lines(result.stdout)  # every entry accounted for: two mazes and two error rows
    assert len(records) == 4 and sorted(r["index"] for r in records) == [0, 1, 2, 3]
    unread = [r for r in records if "error" in r]
    assert [(r["source"], r["line"], r["valid"]) for r in unread] == [(str(BAD_MAZE), 20, False),
                                                                      ("nowhere.txt", None, False)]  # fmt: skip
    assert "unreadable" in result.stderr and result.stderr.count("no such file or directory") == 2  # summary lists it
    errors = result.stderr.splitlines()[:2]  # then the summary
    assert errors == [f"error: {BAD_MAZE}:20: 2 G cells (row 7, col 2; row 10, col 2)",
                      "error: nowhere.txt: no such file or directory"]  # fmt: skip


def test_arc_directory_task_files_and_combined_file(models: dict[str, Path]) -> None:
    result = run("arc", ARC, "-m", models["arc"], "--max-steps", 1, "--json")
    assert result.exit_code == 1, result.output  # well-formed grids, but not the known outputs
    records = {r["source"]: r for r in json_lines(result.stdout)}
    assert records[f"{ARC / 'flip_horizontal.json'}#flip_horizontal/0"]["correct"] is False
    assert records[f"{ARC / 'recolour.json'}#recolour/0"]["correct"] is None
    combined = [r for s, r in records.items() if "tiny_challenges" in s]
    assert len(combined) == 3 and all(r["correct"] is False and r["expected"] for r in combined)
    assert not any("tiny_solutions" in s for s in records)


def test_halting_options(models: dict[str, Path]) -> None:
    base = ["sudoku", SUDOKU / "collection.txt", "-m", models["sudoku"], "--json"]
    steps = {r["steps"] for r in json_lines(run(*base, "--no-halt", "--max-steps", 3).stdout)}
    assert steps == {3}
    stopped = json_lines(run(*base, "--no-verify", "--halt-threshold", 0).stdout)
    assert {(r["steps"], r["halted"]) for r in stopped} == {(1, True)}
    never = json_lines(run(*base, "--no-verify", "--halt-threshold", 1, "--max-steps", 2).stdout)
    assert {(r["steps"], r["halted"]) for r in never} == {(2, False)}


def test_stdin_and_trace_as_text(models: dict[str, Path]) -> None:
    text = (SUDOKU / "easy.txt").read_text().splitlines()[1] + "\n"
    result = run("sudoku", "-", "-m", models["sudoku"], "--trace", "--no-halt", "--max-steps", 2, input=text)
    assert result.exit_code == 1
    out = result.stdout
    assert out.index("step 1/2 · first answer") < out.index("step 2/2 · ") < out.index("2/2 steps")
    assert "<stdin>:1" in out and "stops here" in out


def test_trace_with_json_keeps_stdout_pure(models: dict[str, Path]) -> None:
    text = (SUDOKU / "collection.txt").read_text()
    result = run("sudoku", "-", "-m", models["sudoku"], "--trace", "--json", "--max-steps", 1, input=text)
    assert len(json_lines(result.stdout)) == 4
    assert result.stderr.count("step 1/1") == 8  # each puzzle as given, then (it fails) the answer it reports
    assert result.stderr.count("stops here") == 4
    published = run("sudoku", "-", "-m", models["sudoku"], "--trace", "--json", "--max-steps", 1, "--no-verify",
                    input=text)  # fmt: skip
    assert published.stderr.count("step 1/1") == 4 and "view 2" not in published.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sudoku", "missing.txt"], "error: missing.txt: no such file or directory\n"),
        (["sudoku", SUDOKU / "collection.txt", "-m", "no-such-model"], "error: no-such-model: no such model file"),
        (["convert", SUDOKU / "collection.txt", "-o", "x"], "error: "),
    ],
)  # fmt: skip
def test_user_errors_are_one_line_and_exit_2(args: list, message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") <= 2
    assert "Traceback" not in result.output


def test_a_model_for_another_kind_is_refused(models: dict[str, Path]) -> None:
    result = run("sudoku", SUDOKU / "collection.txt", "-m", models["maze"])
    assert result.exit_code == 2
    assert result.stderr == "error: this model solves maze puzzles, not sudoku (pick one with --model)\n"


@pytest.mark.parametrize("command", sorted(typer.main.get_command(app).commands))
def test_every_commands_help_renders(command: str) -> None:
    """Help text is Rich markup: a stray "[...]" in any command's help breaks --help with a traceback."""
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert f" {command} [OPTIONS]" in result.stdout


def test_a_folder_named_like_the_default_model_is_not_taken_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sudoku").mkdir()
    (tmp_path / "sudoku" / "collection.txt").write_text((SUDOKU / "collection.txt").read_text())
    monkeypatch.chdir(tmp_path)
    result = run("sudoku", "sudoku", "--max-steps", 1, "--json")
    if bundled_dir("sudoku") is None:  # until the trained model is bundled
        assert (result.exit_code, result.stderr) == (
            2,
            "error: this install has no bundled sudoku model (sudoku); pass --model\n",
        )
    else:
        assert result.exit_code in (0, 1), result.output
        assert {r["model"] for r in json_lines(result.stdout)} == {"sudoku"}


def test_usage_errors_exit_2() -> None:
    assert run("sudoku", SUDOKU / "collection.txt", "--batch-size", 0).exit_code == 2
    assert run("sudoku").exit_code == 2
    assert run("sudoku", "x", "--device", "tpu").exit_code == 2


def test_version_and_models() -> None:
    assert run("version").stdout == f"trmsolve {__version__}\n"
    (described,) = json_lines(run("version", "--json").stdout)
    assert described["version"] == __version__ and described["auto_dtype"] in ("float32", "bfloat16")
    assert {"device", "cpu_capability", "native_bf16"} <= set(described)
    listed = run("models", "--json")
    assert listed.exit_code == 0
    entries = {r["name"]: r for r in json_lines(listed.stdout)}
    assert all({"name", "task", "metrics", "path"} <= set(r) for r in entries.values())
    # The bundled maze model's advice names a Hub checkpoint for hard mazes, the paper's.
    advice = entries["maze"]["advice"]
    hard = [name for name, r in entries.items() if r["task"] == "maze" and "hard 30x30" in r["headline"]]
    assert hard and any(name in advice for name in hard)
    assert f"maze: {advice}" in run("models").stderr


def test_eval_reports_each_protocol_and_the_machine_it_ran_on() -> None:
    """`trmsolve eval --json` with the bundled Sudoku model: the published protocols and verified solving on the
    same puzzles, and the machine (CPU, L2 cache: the puzzles a pass, hence the float rounding) beside them."""
    from trmsolve.hardware import cpu_model, l2_cache_bytes

    data = Path(__file__).parent / "fixtures" / "data" / "sudoku_eval_64.csv"
    result = run("eval", "sudoku", "--data", data, "--limit", 4, "--threads", 1, "--json")
    assert result.exit_code == 0, result.output
    (report,) = json_lines(result.stdout)
    assert report["n"] == 4 and report["model"] == "sudoku" and report["dtype"] in ("float32", "bfloat16")
    for protocol in ("all_steps", "halting", "verified"):
        assert report[protocol]["exact"] * 4 == round(report[protocol]["exact"] * 4)  # a share of 4 puzzles
    for protocol in ("all_steps", "halting"):  # right at the last step is right at some step
        assert report[protocol]["exact"] <= report[protocol]["reached"] <= 1
    assert sum(report["verified"]["routes"].values()) == round(report["verified"]["exact"] * 4)
    assert report["machine"]["cpu"] == cpu_model() and report["machine"]["l2_cache_bytes"] == l2_cache_bytes()


@pytest.mark.parametrize(("kind", "count"), [("sudoku", 1), ("maze", 2)])
def test_generated_puzzles_read_back_with_their_answers(tmp_path: Path, kind: str, count: int) -> None:
    out = tmp_path / f"{kind}.csv"
    made = run("generate", kind, count, "-o", out, "--seed", 7, "--json")
    assert made.exit_code == 0, made.output
    assert json_lines(made.stdout) == [{"output": str(out), "kind": kind, "count": count, "seed": 7}]
    puzzles = list(read_inputs([out], kind))
    assert len(puzzles) == count and all(p.answer is not None for p in puzzles)
    again = tmp_path / "again.csv"
    assert run("generate", kind, count, "-o", again, "--seed", 7).exit_code == 0
    assert again.read_text() == out.read_text()  # same seed, same puzzles


# ------------------------------------------------------------------------------- the real console script


def test_console_script_end_to_end(models: dict[str, Path]) -> None:
    done = subprocess.run(
        [TRMSOLVE, "sudoku", BAD_SUDOKU, "-m", models["sudoku"], "--max-steps", "1", "--json"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 2  # the bad entry; the other two are solved (and invalid)
    records = sorted(json_lines(done.stdout), key=lambda r: r["index"])
    bad = str(BAD_SUDOKU)
    assert [(r["source"], r.get("line")) for r in records] == [(f"{bad}:2", None), (bad, 3), (f"{bad}:4", None)]
    assert done.stderr.startswith(f"error: {BAD_SUDOKU}:3: expected 81 cells, found 80\nsummary\n")


def test_json_lines_stay_whole_when_interrupted(models: dict[str, Path], tmp_path: Path) -> None:
    puzzles = tmp_path / "many.txt"
    puzzles.write_text((SUDOKU / "collection.txt").read_text() * 100)
    proc = subprocess.Popen(
        [TRMSOLVE, "sudoku", puzzles, "-m", models["sudoku"], "--json", "-b", "1", "--no-halt"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=interruptible,
    )
    first = proc.stdout.readline()  # solving has started
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=180)
    assert proc.returncode == 130
    records = json_lines((first + rest).decode())
    assert 1 <= len(records) < 400  # stopped part-way, every line whole
    assert b"Traceback" not in err


def test_an_interrupt_while_writing_waits_for_the_whole_line(monkeypatch: pytest.MonkeyPatch) -> None:
    class Interrupted(io.StringIO):
        def write(self, text: str) -> int:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C arrives in the middle of the write
            return super().write(text)

    out = Interrupted()
    monkeypatch.setattr(sys, "stdout", out)
    before = signal.getsignal(signal.SIGINT)  # not always the default: nohup starts processes ignoring it
    with pytest.raises(KeyboardInterrupt):
        emit_json('{"a": 1}')
    assert out.getvalue() == '{"a": 1}\n'
    assert signal.getsignal(signal.SIGINT) == before


def test_help_and_usage_errors_do_not_import_torch() -> None:
    """What keeps start-up fast (timed in benchmarks/bench_halting.py, not here): torch loads only to run a model."""
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from trmsolve.cli import app\n"
        "runner = CliRunner()\n"
        "codes = [runner.invoke(app, ['--help']).exit_code, runner.invoke(app, ['sudoku', '--help']).exit_code,\n"
        "         runner.invoke(app, ['sudoku', '--batch-size', '0', 'x']).exit_code]\n"
        "print(codes, 'torch' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert result.stdout == "[0, 0, 2] False\n", result.stderr


# ------------------------------------------------------------------------------- first use (issue 15 items)


def test_an_arc_answer_nothing_can_check_is_marked_unchecked_not_solved() -> None:
    result = run("arc", ARC / "recolour.json", "--max-steps", 1)  # no test output in the file
    assert result.exit_code == 0
    assert "?" in result.stdout and "✓" not in result.stdout
    assert "0 test inputs checked against a known output; 1 unchecked" in result.stdout
    record = json_lines(run("arc", ARC / "recolour.json", "--max-steps", 1, "--json").stdout)[0]
    assert record["checked"] is False and record["correct"] is None


def test_the_bundled_arc_model_solves_its_examples() -> None:
    result = run("arc", ARC / "b1948b0a.json", ARC / "d511f180.json", ARC / "0d3d703e.json", "--json")
    assert result.exit_code == 0, result.output
    assert [r["correct"] for r in json_lines(result.stdout)] == [True, True, True]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("55" + "." * 79, "p.txt:1: the givens break the rules: 5 at r1c1 and at r1c2 (same row)"),
        ("5 3 ~ ~ 7\n6 ~ ~ 1 9 5\n", "p.txt: no Sudoku read (blanks: 0 . _ * ? x -, or spaces in a 9-column grid)"),
    ],
)
def test_puzzles_that_are_not_puzzles_are_bad_input_before_the_model_loads(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "p.txt"
    path.write_text(text + "\n")
    result = run("sudoku", path, "-m", tmp_path / "no-such-model")  # never loaded: the input fails first
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()  # one line, however many lines of the file were wrong
    assert line.startswith(f"error: {tmp_path / message}")


def test_a_puzzle_with_several_solutions_is_solved_and_said_to_be_not_unique(tmp_path: Path) -> None:
    path = tmp_path / "open.txt"
    path.write_text("." * 81 + "\n")  # no givens: any valid grid is a solution
    result = run("sudoku", path, "--json")
    (record,) = json_lines(result.stdout)
    if record["valid"]:
        assert record["details"]["unique"] is False
        assert record["problems"] == ["the puzzle has more than one solution: this is one of them"]


def test_unsolved_mazes_past_the_trained_square_point_to_a_maze_hard_checkpoint(tmp_path: Path) -> None:
    """The bundled maze model's last training run had a square canvas crop (its provenance says which; the model
    solves on a smaller one) and fails mostly on larger mazes: an unsolved 29x29 maze gets a note naming what
    solves such mazes; an unsolved small one does not count."""
    config = json.loads((bundled_dir("maze") / "config.json").read_text())
    trained = config["provenance"]["train_config"]["model"]["canvas_crop"]
    assert config["model"]["canvas_crop"] < trained < 29  # the note names the training square, not the solving one
    walls = ["#" * 28 + ".", "." + "#" * 28]  # a serpentine: the one gap alternates between the two ends
    rows = ["." * 29 if r % 2 == 0 else walls[r // 2 % 2] for r in range(29)]
    rows[0], rows[28] = "S" + rows[0][1:], rows[28][:-1] + "G"
    path = tmp_path / "serpentine.txt"
    path.write_text("\n".join(rows) + "\n")
    result = run("maze", path, MAZE / "small.txt", "--views", 1, "--max-steps", 1, "--threads", 1, "-q")
    assert result.exit_code == 1  # both unsolved in one step
    assert result.stderr.endswith(
        f"note: 1 of the unsolved mazes is larger than the {trained}x{trained} model maze trained on: for mazes up "
        "to 30x30, a published Maze-Hard checkpoint (`trmsolve models`) may solve them\n"
    )


def test_the_time_limit_bounds_a_maze_no_view_solves_and_says_what_was_tried(tmp_path: Path) -> None:
    """A 29x29 serpentine (a 421-cell path) that the bundled model does not draw: its whole view budget (48 views
    of 128 steps) runs for minutes; with --time-limit 3 it is answered after about 3 s, as failing, naming the
    views and steps it tried."""
    walls = ["#" * 28 + ".", "." + "#" * 28]
    rows = ["." * 29 if r % 2 == 0 else walls[r // 2 % 2] for r in range(29)]
    rows[0], rows[28] = "S" + rows[0][1:], rows[28][:-1] + "G"
    path = tmp_path / "serpentine.txt"
    path.write_text("\n".join(rows) + "\n")
    started = time.monotonic()
    result = run("maze", path, "--time-limit", 3, "--threads", 1, "--json")
    assert result.exit_code == 1 and time.monotonic() - started < 60
    (record,) = json_lines(result.stdout)
    assert record["timed_out"] and not record["valid"] and 3000 <= record["elapsed_ms"] < 15000
    assert record["views_tried"] < 48
    tried = f"time limit: stopped after {record['views_tried']} of 48 views, {record['total_steps']} puzzle-steps"
    assert any(problem.startswith(tried) for problem in record["problems"]), record["problems"]


def test_a_maze_no_transform_solves_is_solved_by_a_restart_and_says_so() -> None:
    """A 17x17 maze none of the bundled model's eight rotations and reflections solves within 12 steps a view;
    the second round of views restarts them from a perturbed state (its config's restart_noise), and one of
    those draws the shortest path: checked, and the JSON says a restart found it. (Chosen among 40 generated
    mazes, 6 of them such; the same answers with the CPU limited to AVX2 kernels.)"""
    maze = FIXTURES / "data" / "maze_restart.csv"
    options = ("--max-steps", 12, "--dtype", "float32", "--threads", 1, "--json")
    (plain,) = json_lines(run("maze", maze, "--views", 8, *options).stdout)
    assert not plain["correct"] and plain["restart"] == 0 and plain["total_steps"] == 8 * 12
    result = run("maze", maze, "--views", 16, *options)
    assert result.exit_code == 0
    (restarted,) = json_lines(result.stdout)
    assert restarted["correct"] and restarted["details"]["shortest"] and restarted["route"] == "restart"
    assert restarted["view"] >= 8 and restarted["restart"] == 1 and restarted["symmetry"].endswith(", restart 1")


def test_a_ragged_walled_maze_is_bad_input_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "ragged.txt"
    path.write_text("#####\n#S  #\n# #\n#  G#\n#####\n")
    result = run("maze", path)
    assert result.exit_code == 2
    assert (
        result.stderr
        == f"error: {path}:3: row is 3 wide, the other rows 5 (a maze walled all round has rows of one width)\n"
    )


def test_threads_and_a_short_openmp_spin_by_default() -> None:
    script = (
        "import os, sys, trmsolve.cli as c\n"
        "sys.argv = ['trmsolve', 'version']\n"
        "c.run()\n"
        "print(os.environ.get('GOMP_SPINCOUNT'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.stdout.splitlines()[-1] == "10000"
    chosen = {**env, "OMP_WAIT_POLICY": "ACTIVE"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=chosen, timeout=120)
    assert out.stdout.splitlines()[-1] == "None", "a wait policy the user chose is left alone"
    result = run("sudoku", SUDOKU / "easy.txt", "--threads", 1, "--json")
    assert result.exit_code == 0 and json_lines(result.stdout)[0]["valid"]


@pytest.mark.parametrize("command", [["maze", MAZE / "small.txt"], ["eval", "maze", "--data", MAZE / "maze-hard.csv"]])
def test_compile_without_a_compiler_is_one_clear_error(command: list, tmp_path: Path) -> None:
    """--compile needs a C++ compiler: without one, one `error:` line and exit 2, not the compiler's traceback."""
    env = {**os.environ, "CXX": str(tmp_path / "no-such-compiler"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path)}
    done = subprocess.run([TRMSOLVE, *map(str, command), "--compile"], capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: --compile: torch.compile failed"), done.stderr
    assert "Traceback" not in done.stderr
