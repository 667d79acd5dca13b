"""User-facing error types shared by every layer.

A `UserError` is a mistake the user can fix (a bad script, a bad CSV, a bad flag, an unreachable
endpoint). The CLI prints its `render()` text and exits with its `exit_code`; it never shows a
Python traceback for one. Anything else escaping to the CLI is a bug in tradebot.
"""
from __future__ import annotations


class UserError(Exception):
    """Base of all errors caused by user input; `render()` is what the user sees."""

    exit_code: int = 1

    def render(self) -> str:
        return str(self)


class ScriptError(UserError):
    """One or more diagnostics in a .tbs script (exit code 2)."""

    exit_code = 2


class UsageError(UserError):
    """A bad command-line flag or combination of flags (exit code 2)."""

    exit_code = 2


class DataError(UserError):
    """Bad market data: names the file, the row (1-based line in the file) and the field (exit 3)."""

    exit_code = 3

    def __init__(self, path: object, message: str, *, row: int | None = None,
                 field: str | None = None, hint: str | None = None) -> None:
        self.path = str(path)
        self.row = row
        self.field = field
        self.message = message
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path if self.row is None else f"{self.path}:{self.row}"
        field = f" field '{self.field}':" if self.field else ""
        text = f"{where}:{field} {self.message}"
        return text + (f"\n  hint: {self.hint}" if self.hint else "")


class NetworkError(UserError):
    """An exchange endpoint could not be reached or kept refusing (exit code 4)."""

    exit_code = 4
