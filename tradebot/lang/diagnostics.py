"""Diagnostics: what went wrong in a script, where, and how to fix it — rendered like a compiler.

    rsi.tbs:12:9: error: unknown name `rsii`
       12 | r = rsii(close, 14)
          |     ^^^^
      hint: did you mean `rsi`?

Every stage (parser, checker, compiler) reports `Diagnostic`s; `ScriptDiagnostics` carries all of
them at once to the CLI, which prints `render()` and exits with code 2.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..errors import ScriptError
from .ast import Span

MAX_SHOWN = 20  # beyond this, "... and N more" (a cascade is rarely worth reading)


@dataclass(frozen=True)
class Diagnostic:
    """One problem: a message, the span it is about, an optional hint and notes."""

    message: str
    span: Span
    hint: str | None = None
    severity: str = "error"  # "error" | "warning"
    notes: tuple[str, ...] = field(default=())
    incomplete: bool = False  # the input ended mid-statement (the REPL reads another line)

    def sort_key(self) -> tuple[int, int]:
        return (self.span.start, self.span.end)


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean" hint from the closest candidates, or None when nothing is close."""
    matches = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
    if not matches:
        lowered = {c.lower(): c for c in candidates}
        if name.lower() in lowered:
            matches = [lowered[name.lower()]]
    if not matches:
        return None
    return "did you mean " + " or ".join(f"`{m}`" for m in matches) + "?"


def _caret_line(source_line: str, start_col: int, width: int) -> str:
    # Keep tabs from the source so the caret lines up whatever the terminal's tab width.
    prefix = "".join(ch if ch == "\t" else " " for ch in source_line[: start_col - 1])
    return prefix + "^" * max(1, width)


def render_one(diag: Diagnostic, source: str | None, filename: str) -> str:
    """One diagnostic; without the `source` text (a plan run without it) just its place and words."""
    span = diag.span
    lines = (source.splitlines() or [""]) if source is not None else []
    head = f"{filename}:{span.line}:{span.column}: {diag.severity}: {diag.message}"
    if source is None or span.line < 1 or span.line > len(lines) + 1:
        body = []
    else:
        text = lines[span.line - 1] if span.line <= len(lines) else ""
        end_col = span.end_column if span.end_line == span.line else len(text) + 1
        width = max(1, end_col - span.column)
        gutter = f"{span.line:>5} | "
        body = [gutter + text, " " * (len(gutter) - 2) + "| " + _caret_line(text, span.column, width)]
    tail = [f"  note: {note}" for note in diag.notes]
    if diag.hint:
        tail.append(f"  hint: {diag.hint}")
    return "\n".join([head, *body, *tail])


def render_all(diags: Sequence[Diagnostic], source: str, filename: str) -> str:
    ordered = sorted(diags, key=Diagnostic.sort_key)
    shown = [render_one(d, source, filename) for d in ordered[:MAX_SHOWN]]
    if len(ordered) > MAX_SHOWN:
        shown.append(f"... and {len(ordered) - MAX_SHOWN} more")
    errors = sum(1 for d in ordered if d.severity == "error")
    shown.append(f"{errors} error{'s' if errors != 1 else ''} in {filename}")
    return "\n\n".join(shown[:-1]) + "\n" + shown[-1]


class ScriptDiagnostics(ScriptError):
    """All the errors found in one script; raised once, after every stage had its say."""

    def __init__(self, diagnostics: Sequence[Diagnostic], source: str, filename: str) -> None:
        self.diagnostics = tuple(sorted(diagnostics, key=Diagnostic.sort_key))
        self.source = source
        self.filename = filename
        super().__init__(self.render())

    def render(self) -> str:
        return render_all(self.diagnostics, self.source, self.filename)
