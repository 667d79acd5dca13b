"""The REPL's state, and what an input does to it — checked by the ordinary pipeline, no terminal here.

The session keeps the statements the user entered as source text (`Entry`). A new input is tried
against the session's source plus the new text, compiled by `pipeline.compile_source` (statements)
or checked with `checker.check_expression` within the session's checked script and compiled with
`compiler.compile_nodes` (an expression). Nothing is re-implemented: what the REPL accepts is exactly what `tradebot run` would.

A statement that defines a name the session already has (`r = ...`, `param`, `def`, a setting,
`strategy`) replaces the earlier one where it stood; rules accumulate. On any error the session is
left as it was, and the diagnostics are moved back into the coordinates of the text the user typed,
so the caret sits under their input (an error inside an earlier statement is shown against the
session's source instead).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable

import polars as pl

from ..lang import ast, ir, statements, unparse
from ..lang import checker
from ..lang.checker import CheckedProgram
from ..lang.compiler import compile_nodes
from ..lang.diagnostics import Diagnostic, ScriptDiagnostics, render_one
from ..lang.parser import parse_expression, parse_program
from ..lang.types import NUMBER_SERIES
from ..pipeline import Strategy, compile_source

INPUT = "<input>"  # the filename diagnostics show for what the user typed
SESSION = "<session>"  # ... and for the statements accepted earlier


class InputError(Exception):
    """The input was rejected; `text` is the rendered diagnostics (the session is unchanged)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Entry:
    """One accepted statement: its source text and what it defines (None for a rule)."""

    text: str
    node: ast.Statement = field(compare=False)
    key: tuple[str, ...] | None = None

    def canonical(self) -> str:
        """The statement as the formatter writes it."""
        return statements.statement(self.node)


@dataclass(frozen=True)
class Session:
    """The accepted statements, the script they came from (if any) and their compiled strategy."""

    entries: tuple[Entry, ...] = ()
    script: Path | None = None
    strategy: Strategy | None = field(default=None, compare=False, repr=False)

    @property
    def source(self) -> str:
        return "".join(entry.text + "\n" for entry in self.entries)

    @property
    def checked(self) -> CheckedProgram:
        return self.compiled().checked

    def compiled(self) -> Strategy:
        """The session as a strategy (compiled once per accepted input)."""
        return self.strategy or compile_source(self.source, SESSION, path=self.script)

    def show(self) -> str:
        """The session as canonical .tbs text."""
        return "".join(entry.canonical() + "\n" for entry in self.entries)

    def rules(self) -> list[ast.Rule]:
        return [e.node for e in self.entries if isinstance(e.node, ast.Rule)]


def empty_session() -> Session:
    return Session(strategy=Session().compiled())


@dataclass(frozen=True)
class Accepted:
    """The session after an input, and the entries the input added or replaced."""

    session: Session
    added: tuple[Entry, ...]
    replaced: tuple[Entry, ...]


def accept_statements(session: Session, text: str) -> Accepted:
    """Add the statements in `text` to the session (InputError if the result does not compile)."""
    new = _entries(_parse(lambda: parse_program(text, INPUT)), text)
    merged, replaced = _merge(session.entries, new)
    candidate = Session(tuple(merged), session.script)
    try:
        strategy = compile_source(candidate.source, SESSION, path=session.script)
    except ScriptDiagnostics as err:
        raise InputError(_render_relocated(err.diagnostics, candidate, new, text)) from None
    return Accepted(dataclasses.replace(candidate, strategy=strategy), tuple(new), tuple(replaced))


def load_script(text: str, path: Path) -> Session:
    """A session holding a whole script (errors rendered against the script's file name)."""
    strategy = compile_source(text, str(path), path=path)  # ScriptDiagnostics name the file
    entries = tuple(_entries(strategy.checked.program, text))
    return Session(entries, path, strategy=compile_source(Session(entries).source, SESSION, path=path))


def _entries(program: ast.Program, text: str) -> list[Entry]:
    """The program's statements with their text as written (comments between lines included)."""
    return [Entry(text[s.span.start:s.span.end].rstrip(), s, statements.key(s)) for s in program.statements]


def _merge(old: Iterable[Entry], new: list[Entry]) -> tuple[list[Entry], list[Entry]]:
    """Old entries with new ones replacing those with the same key, the rest appended.

    A key written twice in one input is not merged: the checker reports it as in a script."""
    merged = list(old)
    positions = {e.key: i for i, e in enumerate(merged) if e.key is not None}
    replaced: list[Entry] = []
    for entry in new:
        index = positions.pop(entry.key, None) if entry.key is not None else None
        if index is None:
            merged.append(entry)
        else:
            replaced.append(merged[index])
            merged[index] = entry
    return merged, replaced


# ------------------------------------------------------------------ expressions


@dataclass(frozen=True)
class Expression:
    """An expression checked in the session's context: its canonical text and its IR."""

    text: str
    node: ir.Node

    @property
    def constant(self) -> bool:
        return isinstance(self.node, ir.Const)


def check_expression(session: Session, text: str) -> Expression:
    """Check `text` as an expression that may use everything the session defines."""
    tree = _parse(lambda: parse_expression(text, INPUT))
    node = _parse(lambda: checker.check_expression(text, INPUT, within=session.checked))
    return Expression(unparse.expr(tree), node)


@dataclass(frozen=True)
class Value:
    """What an expression evaluated to: a constant, or a frame of `timestamp` plus one column per
    output (one for a series, one per field for a multi-output indicator such as `bbands`)."""

    label: str
    constant: object | None = None
    frame: pl.DataFrame | None = field(default=None, compare=False)


def evaluate(expression: Expression, bars: pl.DataFrame | None) -> Value:
    """Compile only this expression and run it on `bars` (every bar: indicators need their history).
    A constant needs no bars."""
    node = expression.node
    if isinstance(node, ir.Const):
        return Value(expression.text, constant=node.value)
    if bars is None:
        raise ValueError("a series needs bars to evaluate on")
    if node.type.fields and isinstance(node, ir.Call):
        outputs = {name: ir.FieldOf(node, name, NUMBER_SERIES) for name in node.type.fields}
    else:
        outputs = {expression.text: node}
    plan = compile_nodes(outputs)
    # replace(), not a new Plan: the plan's resampling steps (`expr @ 4h`) must come along.
    with_time = replace(plan, outputs={"timestamp": pl.col("timestamp"), **plan.outputs})
    return Value(expression.text, frame=with_time.evaluate(bars))


EXPRESSION, STATEMENTS = "expression", "statements"


def classify(text: str, *, settings: Iterable[str]) -> str:
    """EXPRESSION or STATEMENTS; InputError with the syntax error of the likelier reading.

    `close - 1` parses both ways (a setting named `close` with value -1): a known setting's name
    first means statements, anything else that parses as an expression is one. When neither reading
    parses, the one that got further into the text is what the user meant."""
    as_expression = _try(lambda: parse_expression(text, INPUT))
    if as_expression is None and _first_word(text) not in set(settings):
        return EXPRESSION
    as_program = _try(lambda: parse_program(text, INPUT))
    if as_program is None:
        return STATEMENTS
    if as_expression is None:
        return EXPRESSION
    best = max((as_program, as_expression), key=_reach)  # a tie goes to the statement's message
    raise InputError(_render(best.diagnostics, text))


def needs_more(text: str) -> bool:
    """Whether the input stops in the middle of an expression or statement (keep reading lines).

    The parser decides: the input is incomplete when every reading of it fails at its very end, as
    with an open bracket or a trailing operator or keyword."""
    if not text.strip() or text.lstrip().startswith(":"):
        return False
    errors = [_try(lambda: parse_expression(text, INPUT)), _try(lambda: parse_program(text, INPUT))]
    if any(error is None for error in errors):
        return False
    return max(_reach(e) for e in errors if e is not None) >= len(text.rstrip())


def _first_word(text: str) -> str:
    words = text.split(None, 1)
    return words[0] if words else ""


def _try(parse) -> ScriptDiagnostics | None:
    try:
        parse()
    except ScriptDiagnostics as err:
        return err
    return None


def _reach(error: ScriptDiagnostics) -> int:
    """How far the parser got; an input that ended mid-statement reached its end (an unclosed
    bracket's diagnostic points at the bracket, but the input is still only unfinished)."""
    if any(d.incomplete for d in error.diagnostics):
        return len(error.source)
    return max(d.span.start for d in error.diagnostics)


# ------------------------------------------------------------------ diagnostics


def _parse(parse):
    try:
        return parse()
    except ScriptDiagnostics as err:
        raise InputError(_render(err.diagnostics, err.source)) from None


def _render(diagnostics: Iterable[Diagnostic], text: str) -> str:
    return "\n\n".join(render_one(d, text, INPUT) for d in sorted(diagnostics, key=Diagnostic.sort_key))


def _layout(entries: Iterable[Entry]) -> list[tuple[Entry, int, int]]:
    """Each entry with its offset and 1-based line in the session's source."""
    out, offset, line = [], 0, 1
    for entry in entries:
        out.append((entry, offset, line))
        offset += len(entry.text) + 1
        line += entry.text.count("\n") + 1
    return out


def _shift(span: ast.Span, *, lines: int, offset: int, columns: int = 0) -> ast.Span:
    """Move a span; `columns` applies to positions on the span's first line only."""
    end_columns = columns if span.end_line == span.line else 0
    return ast.Span(span.line + lines, span.column + columns, span.end_line + lines,
                    span.end_column + end_columns, span.start + offset, span.end + offset)


def _render_relocated(diagnostics: Iterable[Diagnostic], session: Session, new: list[Entry], text: str) -> str:
    own = {id(e) for e in new}
    layout = _layout(session.entries)
    shown = []
    for diag in sorted(diagnostics, key=Diagnostic.sort_key):
        home = next(((e, o, l) for e, o, l in reversed(layout) if o <= diag.span.start), None)
        if home is not None and id(home[0]) in own:
            entry, offset, line = home
            span = _shift(diag.span, lines=entry.node.span.line - line, offset=entry.node.span.start - offset)
            shown.append(render_one(dataclasses.replace(diag, span=span), text, INPUT))
        else:
            shown.append(render_one(diag, session.source, SESSION))
    return "\n\n".join(shown)
