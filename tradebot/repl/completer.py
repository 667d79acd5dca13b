"""Completion at the REPL prompt: builtins, params, user functions, series, settings, keywords,
fields after a dot, commands and file names — each with its signature and one-line doc.

Everything offered comes from the registries, the vocabulary and the session's checked program, so
a builtin or setting added anywhere appears here. Fields after a dot are found by checking the text
before the dot as an expression: `bb.` offers what `bb`'s type says (`Builtin.fields` for a
multi-output indicator), whether `bb` is a definition, a call or a user function's result.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

from prompt_toolkit.completion import CompleteEvent, Completer, Completion, PathCompleter
from prompt_toolkit.document import Document

from ..lang import ast, statements, unparse
from ..lang.builtins import REGISTRY
from ..lang.settings import SETTINGS
from ..lang.tooling.vocabulary import vocabulary
from .commands import COMMANDS
from .session import InputError, Session, check_expression

_WORD_AT_END = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_FILE_COMMANDS = ("data", "load", "save")
_CODE_COMMANDS = ("plot",)
MAX_SHOWN = 60  # a definition's text is cut to this in the menu


@dataclass(frozen=True)
class Candidate:
    """One thing that may be typed here, and what the menu says about it."""

    text: str
    meta: str
    kind: str


def _short(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def _first_sentence(doc: str) -> str:
    return doc.split(". ")[0].rstrip(".") + "."


def builtin_candidates() -> list[Candidate]:
    out = []
    for name, builtin in sorted(REGISTRY.items()):
        meta = builtin.summary() if builtin.is_series else f"{builtin.signature()} — {builtin.summary()}"
        out.append(Candidate(name, meta, "series" if builtin.is_series else "function"))
    return out


def session_candidates(session: Session) -> list[Candidate]:
    """The session's params, named series and user functions."""
    checked = session.checked
    out = [Candidate(p.name, f"param = {p.value_text()} in {p.domain_text()}", "param") for p in checked.params]
    for entry in session.entries:
        node = entry.node
        if isinstance(node, ast.Assign) and node.name in checked.series:
            kind = checked.series[node.name].type.describe()
            out.append(Candidate(node.name, _short(f"{kind} = {unparse.expr(node.value)}"), "definition"))
        elif isinstance(node, ast.FuncDef):
            out.append(Candidate(node.name, _short(statements.statement(node)), "user function"))
    return out


def statement_candidates() -> list[Candidate]:
    """What only a statement's first word may be: settings."""
    return [Candidate(name, _first_sentence(spec.doc), "setting") for name, spec in sorted(SETTINGS.items())]


def keyword_candidates() -> list[Candidate]:
    return [Candidate(word, "keyword", "keyword") for word in vocabulary().all_keywords]


def command_candidates() -> list[Candidate]:
    return [Candidate(f":{c.name}", c.summary, "command") for c in COMMANDS.values()]


def field_candidates(session: Session, target: str) -> list[Candidate]:
    """The fields of the value `target` evaluates to (none if it is not a multi-output value)."""
    try:
        node = check_expression(session, target).node
    except InputError:
        return []
    return [Candidate(f, f"field of {target.strip()}", "field") for f in node.type.fields]


def trailing_operand(text: str) -> str:
    """The operand that ends `text`: `x = bbands(close, 20)` → `bbands(close, 20)`."""
    i = len(text.rstrip(" \t"))
    end = i
    while i > 0:
        char = text[i - 1]
        if char in ")]":
            opener = _matching_opener(text, i - 1)
            if opener is None:
                break
            i = opener
        elif char.isalnum() or char in "_.":
            i -= 1
        else:
            break
    return text[i:end]


def _matching_opener(text: str, close: int) -> int | None:
    pairs = {")": "(", "]": "["}
    depth = 0
    for i in range(close, -1, -1):
        if text[i] in pairs:
            depth += 1
        elif text[i] in "([":
            depth -= 1
            if depth == 0:
                return i
    return None


def _field_target(before: str) -> str | None:
    """The text before a field-access dot ending `before`, if there is one (`..` is a range)."""
    stripped = before.rstrip(" \t")
    if stripped.endswith(".") and not stripped.endswith(".."):
        return stripped[:-1]
    return None


def code_candidates(session: Session, before: str) -> list[Candidate]:
    """Candidates for the word being typed after `before` (the text up to that word)."""
    target = _field_target(before)
    if target is not None:
        return field_candidates(session, trailing_operand(target))
    at_statement_start = before.split("\n")[-1] == ""
    options = builtin_candidates() + session_candidates(session) + keyword_candidates()
    return (statement_candidates() + options) if at_statement_start else options


class ReplCompleter(Completer):
    """prompt_toolkit completer over the session `current()` returns at each keystroke."""

    def __init__(self, current: Callable[[], Session]) -> None:
        self._current = current
        self._paths = PathCompleter(expanduser=True)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        text = document.text_before_cursor
        if text.lstrip().startswith(":"):
            yield from self._command(text.lstrip(), complete_event)
        else:
            yield from self._code(text, complete_event)

    def _code(self, text: str, event: CompleteEvent) -> Iterator[Completion]:
        match = _WORD_AT_END.search(text)
        word = match.group() if match else ""
        before = text[: len(text) - len(word)]
        if not word and _field_target(before) is None and not event.completion_requested:
            return  # nothing typed yet: no menu popping up after every space
        yield from _completions(code_candidates(self._current(), before), word)

    def _command(self, text: str, event: CompleteEvent) -> Iterator[Completion]:
        name, space, arg = text[1:].partition(" ")
        if not space:
            yield from _completions(command_candidates(), text)
            return
        if name in _FILE_COMMANDS:
            yield from self._paths.get_completions(Document(arg, len(arg)), event)
        elif name in _CODE_COMMANDS:
            yield from self._code(arg, event)
        elif name == "help":
            topics = builtin_candidates() + statement_candidates() + [
                Candidate(c.name, c.summary, "command") for c in COMMANDS.values()]
            yield from _completions(topics, arg)
        elif name == "set" and "=" not in arg:
            session = self._current()
            settable = [c for c in session_candidates(session) if c.kind == "param"] + statement_candidates()
            yield from _completions(settable, arg)


def _completions(candidates: Iterable[Candidate], typed: str) -> Iterator[Completion]:
    seen: set[str] = set()
    for candidate in candidates:
        if candidate.text.startswith(typed) and candidate.text not in seen:
            seen.add(candidate.text)
            yield Completion(candidate.text, -len(typed), display=candidate.text, display_meta=candidate.meta)
