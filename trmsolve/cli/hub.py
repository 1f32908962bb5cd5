"""Model commands: `models`, `convert`, `fetch`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from trmsolve import __version__
from trmsolve.cli.common import JsonOption, Task, app, emit_json, finish

if TYPE_CHECKING:
    pass


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="A published checkpoint (step_N or *.pt) or its run directory.")],
    out: Annotated[Path, typer.Option("--output", "-o", help="Directory to write the model to.")],
    task: Annotated[
        Task | None, typer.Option(help="The puzzle kind, when the vocabulary does not tell.", show_default=False)
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="The run's all_config.yaml (or JSON), when it is not beside SRC.")
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Convert a checkpoint of the published TRM/HRM training code into a trmsolve model directory."""
    from trmsolve.checkpoint import convert as convert_checkpoint
    from trmsolve.checkpoint import read_config

    written = convert_checkpoint(src, out, config=config, task=task.value if task else None)
    model_config, info = read_config(written)
    report = {"output": str(written), "task": info.task, "arch": model_config.arch, "default_steps": info.default_steps}
    finish(json_output, report, f"converted {src} ({model_config.arch}, task {info.task})")


@app.command()
def fetch(
    repo: Annotated[str, typer.Argument(help="OWNER/REPO\\[/PATH]\\[@REVISION] on the Hugging Face Hub.")],
    revision: Annotated[str | None, typer.Option(help="Branch, tag or commit.", show_default="main")] = None,
    file: Annotated[
        str | None, typer.Option(help="The checkpoint to take, when the repo holds several.", show_default=False)
    ] = None,
    task: Annotated[
        Task | None, typer.Option(help="The puzzle kind, when the vocabulary does not tell.", show_default=False)
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Download a model from the Hugging Face Hub ahead of time (converted to trmsolve's format if need be)."""
    from trmsolve.checkpoint import read_config
    from trmsolve.hub import fetch as fetch_model
    from trmsolve.hub import parse_spec

    spec = f"hf:{parse_spec(repo, revision=revision, file=file)}"
    path = fetch_model(spec, task=task.value if task else None)
    model_config, info = read_config(path)
    if json_output:
        emit_json(json.dumps({"model": spec, "path": str(path), "task": info.task, "arch": model_config.arch}))
    else:
        print(path)
        print(f"fetched {spec} ({model_config.arch}, task {info.task}): use --model {spec}", file=sys.stderr)


@app.command()
def models(json_output: JsonOption = False) -> None:
    """List the bundled models, those in the Hugging Face cache, and known public TRM/HRM checkpoints to fetch."""
    import dataclasses

    from trmsolve.models import list_models

    entries = list_models()
    if json_output:
        for entry in entries:
            emit_json(json.dumps(dataclasses.asdict(entry)))
        return
    rows = [("NAME", "WHERE", "TASK", "PARAMS", "HELD-OUT ACCURACY")]
    for e in entries:
        size = "?" if e.parameters is None else f"{e.parameters / 1e6:.2f}M"
        rows.append((e.name, e.where, e.task or "?", size, e.headline))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:  # one line per model, never wrapped: names are copied whole
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    for e in entries:
        if e.advice:
            print(f"{e.name}: {e.advice}", file=sys.stderr)
    print("every figure: `trmsolve models --json`; the cards in weights/*/README.md", file=sys.stderr)


@app.command()
def version(json_output: JsonOption = False) -> None:
    """Print the version; with --json also the device, its capability and the number format `auto` picks."""
    if json_output:
        from trmsolve.hardware import describe

        emit_json(json.dumps({"version": __version__, **describe()}))
    else:
        print(f"trmsolve {__version__}")
