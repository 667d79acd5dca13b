"""Where the caret lands and what the message says, for every error class the checker reports."""
from __future__ import annotations

import pytest

from tradebot.lang.checker import check
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.parser import parse_program


def errors(source: str) -> ScriptDiagnostics:
    with pytest.raises(ScriptDiagnostics) as caught:
        check(parse_program(source, "t.tbs"), source=source, filename="t.tbs")
    return caught.value


def only(source: str):
    diags = errors(source).diagnostics
    assert len(diags) == 1, [d.message for d in diags]
    return diags[0]


def caret_line(source: str) -> str:
    rendered = errors(source).render().splitlines()
    return rendered[2]


@pytest.mark.parametrize("source, line, col, width", [
    ("x = closee\n", 1, 5, 6),                      # middle of the line
    ("feee 1%\n", 1, 1, 4),                         # line start
    ("x = 1\ny = 2 + foo", 2, 9, 3),                # end of the line, no final newline
    ("x = 1\n\n\nenter long when z\n", 4, 17, 1),   # after blank lines
])
def test_caret_positions(source: str, line: int, col: int, width: int) -> None:
    diag = errors(source).diagnostics[0]
    assert (diag.span.line, diag.span.column) == (line, col)
    assert diag.span.end_column - diag.span.column == width


def test_caret_keeps_tabs_so_it_lines_up() -> None:
    source = "x = 1\t+ closee\n"
    assert caret_line(source) == "      | " + "     \t  " + "^^^^^^"


def test_caret_at_end_of_input() -> None:
    diag = errors("x = 1 +").diagnostics[0]
    assert (diag.span.line, diag.span.column) == (1, 8)
    assert "ends too early" in diag.message and diag.incomplete


def test_an_unclosed_bracket_is_shown_where_it_opens() -> None:
    diags = errors("r = rsi(close, 14\nenter long when r crossover 30\n").diagnostics
    assert (diags[0].span.line, diags[0].span.column) == (1, 8)
    assert diags[0].message == "`(` is never closed" and diags[0].incomplete
    assert diags[1].hint == "did you mean `crosses`?"


def test_rendering_shape() -> None:
    text = errors("r = rsii(close, 14)\n").render()
    assert text.splitlines() == [
        "t.tbs:1:5: error: unknown function `rsii`",
        "    1 | r = rsii(close, 14)",
        "      |     ^^^^",
        "  hint: did you mean `rsi` or `rising`?",
        "1 error in t.tbs",
    ]


@pytest.mark.parametrize("source, message, hint", [
    ("x = smaa(close, 3)", "unknown function `smaa`", "did you mean `sma`"),
    ("x = clos", "unknown name `clos`", "did you mean `close`"),
    ("x = sma", "`sma` is a function, not a value", "sma(close, 20)"),
    ("x = close(3)", "`close` is a series, not a function", "without parentheses"),
    ("x = sma(close)", "`sma` needs its `length` argument", "signature"),
    ("x = sma(close, 2, 3)", "takes at most 2 arguments", "signature"),
    ("x = sma(close, lenth=3)", "has no argument `lenth`", "did you mean `length`"),
    ("x = sma(src=close, 3)", "positional argument cannot follow", None),
    ("x = sma(close, length=3, length=4)", "given twice", None),
    ("x = sma(close, 2.5)", "must be a whole number", None),
    ("x = sma(close, 0)", "must be at least 1", None),
    ("x = sma(close > open, 3)", "needs a number, got a bool series", "if c then 1 else 0"),
    ("x = close and open", "needs a condition", "compare it"),
    ("x = close[-2]", "would read a future bar", "no lookahead"),
    ("x = close[close]", "must be a constant number", "known before the run"),
    ("x = if close > open then 1 else close > 2", "both branches", None),
    ("x = 1 / 0", "division by zero", None),
    ("x = close > open for 0 bars", "at least 1", None),
    ("x = close.upper", "has no field `upper`", "macd(close).signal"),
    ("x = close @ 0h", "the timeframe `0h` is empty", None),
    ("x = (close @ 1h) @ 4h", "`@ 1h` inside `@ 4h` must be a whole multiple of 4h", "every bar is 4 hours long"),
    ("x = macd(close) @ 4h", "gives several series", ".macd"),
    ("fee 0.05", "`fee` is a percentage", "0.05%"),
    ("fee 20%", "at most 5%", None),
    ("capital -5", "must be more than 0", None),
    ("capital \"lots\"", "takes a number", None),
    ("data 5", "takes a quoted string", None),
    ("feee 0.1%", "unknown setting `feee`", "did you mean `fee`"),
    ("capital = 5", "`capital` is a setting", "capital 10_000"),
    ("param n = 3 in 5..10", "outside its range", None),
    ("param n = 3 in 5..1", "is empty", None),
    ("param n = 3 in 1..5 step 0", "step of `n` must be positive", None),
    ("param n = 3 in [1, 2]", "not one of its choices", None),
    ("param n = close in 1..5", "plain numbers", None),
    ("sma = 3", "built-in function", "my_sma"),
    ("x = 1\nx = 2", "already defined on line 1", None),
    ("def f(a, a) = a", "appears twice", None),
    ("def f(a) = f(a)\nx = f(close)", "calls itself", "cannot recurse"),
    ("def f(a, b) = a + b\nx = f(close)", "missing `b`", "defined as f(a, b)"),
    ("def f(a) = a + nope", "unknown name `nope`", None),
    ("a = b\nb = a", "circular definition", None),
    ("strategy \"a\"\nstrategy \"b\"", "named twice", None),
    ("enter long when close", "must be true or false", None),
    ("x = and", "reserved word", "and_"),
])
def test_error_classes(source: str, message: str, hint: str | None) -> None:
    diags = errors(source + "\nenter long when close > open\n").diagnostics
    match = [d for d in diags if message in d.message]
    assert match, [d.message for d in diags]
    if hint:
        assert hint in (match[0].hint or ""), match[0].hint


def test_a_bare_condition_gets_a_statement_hint() -> None:
    diag = only("close > open\n")
    assert "enter long when" in (diag.hint or "")


def test_all_errors_are_reported_at_once() -> None:
    diags = errors("a = smaa(close, 3)\nb = rsi(clse)\nfeee 1%\nenter long when a > b\n").diagnostics
    assert len(diags) == 3
    assert [d.span.line for d in diags] == [1, 2, 3]


def test_an_error_inside_a_function_is_reported_once() -> None:
    diags = errors("def f(x) = x + nope(x)\na = f(close)\nb = f(open)\nenter long when a > b\n").diagnostics
    assert len(diags) == 1


def test_warning_for_a_script_that_never_enters() -> None:
    source = "x = close\n"
    checked = check(parse_program(source), source=source, filename="t.tbs")
    assert checked.warnings and "never trades" in checked.warnings[0].message
