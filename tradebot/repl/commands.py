"""The REPL's `:commands`: one table (COMMANDS), one handler each, all going through the pipeline.

A handler takes the Repl (controller.py) and the text after the command's name and returns a Reply
— what to print and whether to stop — or just the text. Commands may be shortened to any unique
prefix (`:h` for `:help`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from ..errors import UsageError
from ..lang import ast, statements
from ..lang.builtins import REGISTRY
from ..lang.diagnostics import did_you_mean, render_one
from ..lang.parser import parse_expression
from ..lang.settings import SETTINGS
from ..pipeline import backtest_counting_rules, check_data, read_script, run_settings, summarise
from . import display
from .session import INPUT, empty_session, load_script

if TYPE_CHECKING:
    from .controller import Repl

CHART_HEIGHT = 8
DEFAULT_TAIL = 10  # rows an expression shows until `:tail N`


@dataclass(frozen=True)
class Reply:
    """What to print after an input, and whether the REPL should stop."""

    text: str = ""
    quit: bool = False


@dataclass(frozen=True)
class Command:
    """A `:name ARGS` command: its usage, a one-line summary and its handler."""

    name: str
    args: str
    summary: str
    handler: Callable[[Repl, str], Reply | str]

    @property
    def usage(self) -> str:
        return f":{self.name}{' ' + self.args if self.args else ''}"


def run_command(repl: Repl, text: str) -> Reply:
    word, _, arg = text[1:].strip().partition(" ")
    command = find_command(word)
    if command is None:
        hint = did_you_mean(f":{word}", [f":{name}" for name in COMMANDS]) or "`:help` lists the commands"
        return Reply(f"unknown command `:{word}`; {hint}")
    reply = command.handler(repl, arg.strip())
    return reply if isinstance(reply, Reply) else Reply(reply)


def find_command(word: str) -> Command | None:
    if word in COMMANDS:
        return COMMANDS[word]
    matches = [c for name, c in COMMANDS.items() if name.startswith(word)] if word else []
    return matches[0] if len(matches) == 1 else None


def _needs(arg: str, usage: str) -> str:
    if not arg:
        raise UsageError(f"usage: {usage}")
    return arg


# ------------------------------------------------------------------ data and scripts


def _data(repl: Repl, arg: str) -> str:
    if arg:
        repl.use_data(arg)
    return repl.data_summary()


def _load(repl: Repl, arg: str) -> str:
    path = Path(_needs(arg, ":load SCRIPT.tbs")).expanduser()
    repl.session = load_script(read_script(path), path)
    checked = repl.session.checked
    rules = len(repl.session.rules())
    return (f"loaded {path}: {len(checked.params)} params, {len(checked.series)} series, {rules} rules\n"
            + repl.data_summary())


def _save(repl: Repl, arg: str) -> str:
    path = Path(_needs(arg, ":save FILE.tbs")).expanduser()
    try:
        path.write_text(repl.session.show(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return f"wrote {path} ({len(repl.session.entries)} statements)"


def _show(repl: Repl, arg: str) -> str:
    return repl.session.show().rstrip("\n") or "(the session is empty: type definitions and rules)"


def _reset(repl: Repl, arg: str) -> str:
    repl.session = empty_session()
    return "session cleared"


# ------------------------------------------------------------------ running


def _run(repl: Repl, arg: str) -> str:
    """What `tradebot run` prints for the session's script on the session's data."""
    strategy = repl.session.compiled()
    bars = repl.bars()
    checked = strategy.checked
    warnings = [render_one(w, checked.source, checked.filename)
                for w in [*checked.warnings, *check_data(strategy, bars)]]
    result, rules = backtest_counting_rules(strategy, bars)
    summary = summarise(strategy, bars, result, settings=run_settings(strategy, bars, data=repl.data_name()),
                        rules=rules)
    return "\n".join([*warnings, summary.rstrip("\n")])


def _set(repl: Repl, arg: str) -> str:
    """`:set name=value`: rewrite a param's default or a setting, as if the line had been typed."""
    name, sep, value = (part.strip() for part in _needs(arg, ":set NAME=VALUE").partition("="))
    if not sep or not name or not value:
        raise UsageError("usage: :set NAME=VALUE, for example :set length=20 or :set fee=0.1%")
    if name in SETTINGS:
        return repl.add_statements(f"{name} {value}")
    params = {e.node.name: e.node for e in repl.session.entries if isinstance(e.node, ast.ParamDecl)}
    if name not in params:
        hint = did_you_mean(name, [*params, *SETTINGS])
        known = ", ".join([*params, *SETTINGS])
        raise UsageError(f"no param or setting `{name}`; " + (hint or f"these can be set: {known}"))
    default = parse_expression(value, INPUT)
    return repl.add_statements(statements.statement(dataclasses.replace(params[name], default=default)))


def _tail(repl: Repl, arg: str) -> str:
    if arg:
        try:
            rows = int(arg)
        except ValueError:
            rows = 0
        if rows < 1:
            raise UsageError(f"usage: :tail N, a whole number of rows >= 1 (default {DEFAULT_TAIL})")
        repl.tail = rows
    return f"expressions show their last {repl.tail} values"


def _plot(repl: Repl, arg: str) -> str:
    value = repl.value(_needs(arg, ":plot EXPRESSION"))
    if value.frame is None:
        return f"{value.label} is the constant {display.format_value(value.constant)}: nothing to plot"
    width = max(10, repl.width() - 14)
    return display.plot_text(value.frame, label=value.label, width=width, height=CHART_HEIGHT)


# ------------------------------------------------------------------ help


def _help(repl: Repl, arg: str) -> str:
    topic = arg.lstrip(":")
    if not topic:
        width = max(len(c.usage) for c in COMMANDS.values())
        lines = ["Type an expression to see its last values, a definition or rule to add it to the "
                 "session.", "Commands:"]
        lines += [f"  {c.usage.ljust(width)}  {c.summary}" for c in COMMANDS.values()]
        return "\n".join([*lines, "", display.builtin_index()])
    if topic in REGISTRY:
        return display.builtin_help(REGISTRY[topic])
    if topic in SETTINGS:
        return display.setting_help(SETTINGS[topic])
    if find_command(topic) is not None:
        command = find_command(topic)
        return f"{command.usage}\n  {command.summary}"
    own = [e for e in repl.session.entries if e.key == ("name", topic)]
    if own:
        return own[0].text
    hint = did_you_mean(topic, [*REGISTRY, *SETTINGS, *COMMANDS])
    return f"no help for `{topic}`" + (f"; {hint}" if hint else "; `:help` lists everything")


def _quit(repl: Repl, arg: str) -> Reply:
    return Reply(quit=True)


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("help", "[NAME]", "this list, or a builtin's, setting's or command's help", _help),
    Command("data", "[FILE]", "use another OHLCV CSV file (without FILE: which data is in use)", _data),
    Command("load", "SCRIPT", "replace the session with a .tbs script", _load),
    Command("run", "", "backtest the session's rules and print the summary", _run),
    Command("set", "NAME=VALUE", "change a param's value or a setting (fee, capital, ...)", _set),
    Command("show", "", "the session as a .tbs script", _show),
    Command("save", "FILE", "write the session to a .tbs file", _save),
    Command("plot", "EXPRESSION", "chart an expression over the last bars", _plot),
    Command("tail", "[N]", f"how many last values an expression shows (default {DEFAULT_TAIL})", _tail),
    Command("reset", "", "forget every definition and rule", _reset),
    Command("quit", "", "leave (Ctrl-D does too)", _quit),
)}
