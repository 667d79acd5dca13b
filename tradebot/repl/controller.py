"""The REPL's logic behind the prompt: one input in, one reply out (app.py owns the terminal).

`Repl.handle(text)` decides what the text is — a `:command`, an expression to evaluate, or
statements to add to the session — and returns the text to print. The session (session.py) is
immutable; `Repl` holds the current one, the data choice, the loaded bars and display preferences.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import polars as pl

from ..config import Config
from ..errors import UserError
from ..lang import ast, statements
from ..lang.checker import CheckedProgram
from ..lang.settings import SETTINGS
from ..pipeline import data_path, load_bars
from . import display
from .commands import DEFAULT_TAIL, Reply, run_command
from .session import (EXPRESSION, Accepted, Entry, InputError, Session, Value, accept_statements,
                      check_expression, classify, empty_session, evaluate)


class BarsCache:
    """The last data file loaded, kept until the file changes on disk (size or modification time)."""

    def __init__(self, loader: Callable[[Path], pl.DataFrame] = load_bars) -> None:
        self._loader = loader
        self._key: tuple[str, int, int] | None = None
        self._bars: pl.DataFrame | None = None

    def get(self, path: Path) -> pl.DataFrame:
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
        except OSError:
            key = None  # the loader reports the missing file in its own words
        if key is None or key != self._key or self._bars is None:
            self._bars = self._loader(path)
            self._key = key
        return self._bars


class Repl:
    """The state of one REPL run and the handling of each input."""

    def __init__(self, *, config: Config, data: str | None = None, bars: pl.DataFrame | None = None,
                 width: Callable[[], int] | None = None) -> None:
        self.config = config
        self.session: Session = empty_session()
        self.data_flag = data  # --data or :data; else the session's `data` setting, config, bundled
        self.tail = DEFAULT_TAIL
        self.width = width or (lambda: shutil.get_terminal_size().columns)
        self._cache = BarsCache()
        self._fixed_bars = bars  # bars given directly (tests, benchmarks) win over any file

    # ------------------------------------------------------------ data
    def data_path(self) -> Path:
        return data_path(self.session.compiled(), flag=self.data_flag, config=self.config)

    def bars(self) -> pl.DataFrame:
        if self._fixed_bars is not None:
            return self._fixed_bars
        return self._cache.get(self.data_path())

    def use_data(self, path: str) -> pl.DataFrame:
        """Switch to another data file; the old choice stays if this one cannot be loaded."""
        bars = self._cache.get(Path(path).expanduser())
        self.data_flag, self._fixed_bars = path, None
        return bars

    def data_name(self) -> str:
        return "the bars given" if self._fixed_bars is not None else str(self.data_path())

    def data_summary(self) -> str:
        return f"data: {self.data_name()} ({describe_bars(self.bars())})"

    # ------------------------------------------------------------ inputs
    def handle(self, text: str) -> Reply:
        """Run one input; user mistakes become the reply's text, the session is kept."""
        text = text.rstrip()  # trailing blank lines end a multi-line input; they mean nothing
        if not text.strip():
            return Reply()
        try:
            if text.lstrip().startswith(":"):
                return run_command(self, text.strip())
            if classify(text, settings=SETTINGS) == EXPRESSION:
                return Reply(self.show_value(text))
            return Reply(self.add_statements(text))
        except InputError as err:
            return Reply(err.text)
        except UserError as err:
            return Reply(err.render())

    def value(self, text: str) -> Value:
        """Evaluate an expression in the session on the current bars."""
        expression = check_expression(self.session, text)
        return evaluate(expression, None if expression.constant else self.bars())

    def show_value(self, text: str) -> str:
        value = self.value(text)
        if value.frame is None:
            return display.format_value(value.constant)
        return display.format_table(value.frame, rows=self.tail)

    def add_statements(self, text: str) -> str:
        accepted = accept_statements(self.session, text)
        self.session = accepted.session
        return describe_accepted(accepted)


def describe_bars(bars: pl.DataFrame) -> str:
    if bars.height == 0:
        return "no bars"
    first, last = (bars["timestamp"][i].strftime(display.TIME_FORMAT) for i in (0, -1))
    return f"{bars.height:,} bars, {first} → {last} UTC"


def describe_accepted(accepted: Accepted) -> str:
    """One line per statement the input added: what it defines, or the rule it added."""
    replaced = {e.key for e in accepted.replaced}
    checked = accepted.session.checked
    rules = len(accepted.session.rules())
    return "\n".join(_describe(entry, entry.key in replaced, checked, rules) for entry in accepted.added)


def _describe(entry: Entry, replaced: bool, checked: CheckedProgram, rules: int) -> str:
    node = entry.node
    after = _AFTER.get(type(node))
    return statements.said(node, replaced=replaced) + (after(node, checked, rules) if after else "")


def _series_type(node: ast.Assign, checked: CheckedProgram, rules: int) -> str:
    series = checked.series.get(node.name)
    return f" ({series.type.describe()})" if series is not None else ""


def _rule_count(node: ast.Rule, checked: CheckedProgram, rules: int) -> str:
    return f" ({rules} rule{'s' if rules != 1 else ''} in the session; :run backtests)"


# What a reply adds after the words every statement kind has (lang/statements.py): what the session
# now knows that the statement alone does not say.
_AFTER: dict[type, Callable[..., str]] = {ast.Assign: _series_type, ast.Rule: _rule_count}