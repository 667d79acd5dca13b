"""Hostile and unusual scripts (issue 10): each gives diagnostics with a caret, never a traceback."""
from __future__ import annotations

import pytest

from tradebot.lang import parser
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.parser import parse_program


def syntax_errors(source: str) -> ScriptDiagnostics:
    with pytest.raises(ScriptDiagnostics) as caught:
        parse_program(source, "t.tbs")
    return caught.value


# ---------------------------------------------------------------- 10.3: `enter long` without `when`
@pytest.mark.parametrize("source", ["enter long\n", "enter long", "x = 1\n\nenter long\n", "exit short\n"])
def test_a_rule_without_when_is_a_syntax_error_with_a_hint(source: str) -> None:
    # lark 1.3.1's match_examples raised TypeError here (a %d given a ParserState).
    diag = syntax_errors(source).diagnostics[0]
    assert diag.span.line == source.rstrip("\n").count("\n") + 1
    assert "add `when`" in (diag.hint or "")


def test_a_failing_friendly_message_falls_back_to_the_plain_syntax_error(monkeypatch) -> None:
    def broken(*_args, **_kwargs):
        raise TypeError("a bug in the wording")
    monkeypatch.setattr(parser, "friendly_hint", broken)
    monkeypatch.setattr(parser, "_misspelt_keyword", broken)
    err = syntax_errors("x = 1\nenter long close > open\n")
    diag = err.diagnostics[0]
    assert (diag.span.line, diag.span.column) == (2, 12)
    assert diag.message == "unexpected `close`"
    rendered = err.render().splitlines()
    assert rendered[1:3] == ["    2 | enter long close > open", "      |            ^^^^^"]
