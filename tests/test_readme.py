"""The README and docs/cli.md work as written: every `$ trmsolve ...` line of their console blocks runs from the
repository root (pipes included, under pipefail) and exits 0, and every Python block of the README runs as a
script. A command that stops working fails here before a user meets it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "docs" / "cli.md"]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(path: Path, language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(path.read_text()) if lang == language]


def commands(path: Path) -> list[str]:
    lines = (line[2:] for body in blocks(path, "console") for line in body.splitlines() if line.startswith("$ "))
    return [line for line in lines if line.startswith(("trmsolve ", "cat ", "torchrun "))]


def environment() -> dict[str, str]:
    """This interpreter's scripts first on PATH, as an activated virtual environment has them."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


CASES = [pytest.param(command, id=f"{path.name}: {command[:60]}") for path in DOCUMENTS for command in commands(path)]


def test_the_documents_have_commands_and_python() -> None:
    assert len(commands(ROOT / "README.md")) >= 5 and len(commands(ROOT / "docs" / "cli.md")) >= 3
    assert blocks(ROOT / "README.md", "python")


@pytest.mark.parametrize("command", CASES)
def test_a_documented_command_works_as_written(command: str) -> None:
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", command], cwd=ROOT, env=environment(), capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"


@pytest.mark.parametrize("number", range(len(blocks(ROOT / "README.md", "python"))))
def test_a_readme_python_block_runs_as_a_script(number: int, tmp_path: Path) -> None:
    script = tmp_path / "block.py"
    script.write_text(blocks(ROOT / "README.md", "python")[number])
    done = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip()
