"""One exception type for everything a user can cause, so the CLI can print it as one line."""

from __future__ import annotations


class TrmsolveError(Exception):
    """A problem with the user's input, files or environment (never a bug in trmsolve).

    The message is complete on its own: it names the file (and line) when there is one.
    """


class PuzzleParseError(TrmsolveError):
    """A puzzle file that cannot be read as the puzzle kind asked for."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = source or ""
        if line is not None:
            where += f":{line}"
        super().__init__(f"{where}: {message}" if where else message)

    def to_dict(self) -> dict[str, object]:
        """The `--json` row of an entry that could not be read (schema in docs/cli.md)."""
        return {"source": self.source, "line": self.line, "error": self.message, "valid": False}


class CheckpointError(TrmsolveError):
    """A checkpoint that cannot be loaded or converted."""


class HubError(CheckpointError):
    """A model that cannot be had from the Hub; the message says what to do."""


class HubOfflineError(HubError):
    """The Hub cannot be reached (or HF_HUB_OFFLINE=1) and the model is not in the cache."""


class HubNotFoundError(HubError):
    """No such repository, revision or file."""


class HubAccessError(HubError):
    """A gated or private repository the token (if any) does not open."""


class HubTransferError(HubError):
    """A download that broke off or does not match what the Hub lists."""
