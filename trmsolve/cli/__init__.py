"""The `trmsolve` command: a thin layer over `trmsolve.solver`, `trmsolve.models` and `trmsolve.data`, one
module per command family (as huggingface_hub's CLI is laid out). `main` is the console script."""

from __future__ import annotations

import sys

import typer

from trmsolve import runtime
from trmsolve.cli import arc, hub, solve, train  # noqa: F401  (importing each registers its commands, in help order)
from trmsolve.cli.common import EXIT_BAD_INPUT, EXIT_CLOSED_PIPE, EXIT_INTERRUPTED, app, emit_json, error

__all__ = ["app", "emit_json", "main", "run"]


def main() -> None:
    """Console-script entry point: `run`, then exit at once (`runtime.exit_now`: no interpreter teardown)."""
    runtime.exit_now(run())


def run() -> int:
    """The command in sys.argv, as an exit code: one-line errors for everything click would box or trace. For
    callers that go on afterwards (tests, other programs); the console script is `main`."""
    import os

    try:  # Typer >= 0.20 carries its own copy of click
        from typer._click import exceptions as click
    except ImportError:
        from click import exceptions as click  # type: ignore[no-redef]

    runtime.spin_briefly()
    runtime.keep_freed_memory()
    try:
        code = app(prog_name="trmsolve", standalone_mode=False)
    except click.UsageError as exc:
        error(exc.format_message())
        if exc.ctx is not None:
            print(f"see '{exc.ctx.command_path} --help'", file=sys.stderr)
        code = EXIT_BAD_INPUT
    except click.ClickException as exc:
        error(exc.format_message())
        code = exc.exit_code
    except (KeyboardInterrupt, typer.Abort):
        code = EXIT_INTERRUPTED
    except BrokenPipeError:
        code = EXIT_CLOSED_PIPE
    if code == EXIT_CLOSED_PIPE:
        # The reader went away (`| head -1`): exit quietly as a process killed by SIGPIPE would, and keep
        # the interpreter's final flush from failing again on the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return code or 0
