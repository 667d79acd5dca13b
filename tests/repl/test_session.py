"""The session: statements accumulate or replace, errors point into the typed text and leave the
session as it was, and the parser decides when an input needs more lines."""
from __future__ import annotations

import re

import pytest

from tradebot.lang import ast
from tradebot.lang.parser import parse_program
from tradebot.lang.settings import SETTINGS
from tradebot.pipeline import compile_source
from tradebot.repl.session import (EXPRESSION, STATEMENTS, InputError, accept_statements,
                                   check_expression, classify, empty_session, evaluate, load_script,
                                   needs_more)


def _accept(session, *texts):
    for text in texts:
        session = accept_statements(session, text).session
    return session


def caret_column(rendered: str) -> tuple[int, int]:
    """(line, column) from `<input>:L:C:` and check that the caret line agrees with it."""
    head = re.match(r"<input>:(\d+):(\d+): error", rendered)
    assert head, rendered
    line, column = int(head[1]), int(head[2])
    caret = next(l for l in rendered.splitlines() if l.strip().startswith("|") and "^" in l)
    gutter = rendered.splitlines()[1].index("|") + 2
    assert caret.index("^") - gutter + 1 == column, rendered
    return line, column


def test_definitions_and_rules_build_the_strategy():
    session = _accept(empty_session(), "param n = 14 in 5..30", "r = rsi(close, n)",
                      "enter long when r crosses above 30", "exit long when r > 70")
    # The same text as a script compiles to the same strategy: nothing REPL-specific in between.
    script = compile_source("param n = 14 in 5..30\nr = rsi(close, n)\nenter long when r crosses above 30\n"
                            "exit long when r > 70\n", "s.tbs")
    assert session.checked.signals == script.checked.signals
    assert session.checked.param_values == {"n": 14}


def test_redefinition_replaces_in_place_and_rules_accumulate():
    session = _accept(empty_session(), "x = sma(close, 10)", "enter long when close > x", "fee 0.05%",
                      "x = ema(close, 10)", "enter long when close < x", "fee 0.1%")
    texts = [e.text for e in session.entries]
    assert texts == ["x = ema(close, 10)", "enter long when close > x", "fee 0.1%", "enter long when close < x"]
    assert session.checked.settings["fee"] == pytest.approx(0.001)


def test_a_name_defined_twice_in_one_input_is_an_error_as_in_a_script():
    with pytest.raises(InputError) as caught:
        accept_statements(empty_session(), "x = 1\nx = 2")
    assert "already defined" in caught.value.text
    assert caret_column(caught.value.text) == (2, 1)


def test_an_error_leaves_the_session_unchanged_and_points_into_the_input():
    session = _accept(empty_session(), "x = sma(close, 10)")
    text = "y = x + rsi(clse, 14)"
    with pytest.raises(InputError) as caught:
        accept_statements(session, text)
    assert caret_column(caught.value.text) == (1, text.index("clse") + 1)
    assert "did you mean `close`" in caught.value.text
    assert [e.text for e in session.entries] == ["x = sma(close, 10)"]


def test_error_on_a_later_line_of_a_multi_line_input():
    session = _accept(empty_session(), "a = 1", "b = 2", "c = 3")
    text = "enter long when close > open\n    and foo > 1"
    with pytest.raises(InputError) as caught:
        accept_statements(session, text)
    assert caret_column(caught.value.text) == (2, 9)


def test_an_error_the_input_causes_in_an_earlier_statement_is_shown_there():
    session = _accept(empty_session(), "param n = 14 in 5..30", "r = rsi(close, n)")
    with pytest.raises(InputError) as caught:
        accept_statements(session, "param n = 2.5 in [1.5, 2.5]")  # rsi needs a whole length now
    assert "<session>:2:" in caught.value.text


def test_expression_errors_point_into_the_input():
    session = _accept(empty_session(), "x = sma(close, 10)")
    for text, bad in [("x + foo", "foo"), ("sma(close, 10) +\n    nope * 2", "nope"), ("rsi(x, -3)", "-3")]:
        with pytest.raises(InputError) as caught:
            check_expression(session, text)
        before = text[: text.index(bad)]
        expected = (before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1)
        assert caret_column(caught.value.text) == expected, caught.value.text


def test_expressions_see_the_session_and_compile_alone():
    session = _accept(empty_session(), "param n = 5 in 1..9", "def twice(a) = 2 * a", "x = sma(close, n)")
    expression = check_expression(session, "twice(x)")
    assert expression.text == "twice(x)"
    assert not expression.constant
    assert check_expression(session, "n * 2").constant


@pytest.mark.parametrize("text, kind", [
    ("close", EXPRESSION), ("rsi(close, 14) > 70", EXPRESSION), ("close - 1", EXPRESSION),
    ("high (1)", EXPRESSION), ("x = 1", STATEMENTS), ("fee 0.1%", STATEMENTS), ("fee - 1%", STATEMENTS),
    ("enter long when close > open", STATEMENTS), ("param n = 3", STATEMENTS),
    ("def f(a) = a", STATEMENTS), ("x = 1\ny = 2", STATEMENTS),
])
def test_classify(text, kind):
    assert classify(text, settings=SETTINGS) == kind


def test_classify_reports_the_reading_that_got_further():
    with pytest.raises(InputError) as caught:
        classify("enter long when close >> open", settings=SETTINGS)
    assert caret_column(caught.value.text)[1] == len("enter long when close >") + 1


@pytest.mark.parametrize("text", [
    "x = sma(close,", "x = 1 +", "enter long when", "enter long when close crosses", "(close", "close >",
    "x = if close > open then 1 else", "def f(a) =", "param n = 14 in", "rsi(close,\n    14",
])
def test_needs_more_while_the_input_stops_in_the_middle(text):
    assert needs_more(text)


@pytest.mark.parametrize("text", [
    "x = 1", "close", "x = 1 )", "enter long close > open", ":help", "", "close $", "x = sma(close,\n    20)",
])
def test_complete_or_wrong_inputs_do_not_continue(text):
    assert not needs_more(text)


def test_show_is_canonical_and_round_trips(tmp_path):
    session = _accept(empty_session(), "x   =  sma( close,10 )", "enter long when close>x  # buy")
    shown = session.show()
    assert shown == "x = sma(close, 10)\nenter long when close > x\n"
    assert parse_program(shown) == parse_program(session.source)


def test_load_script_keeps_statements_and_names_errors_by_file(repo_root, tmp_path):
    path = repo_root / "examples" / "rsi.tbs"
    session = load_script(path.read_text(encoding="utf-8"), path)
    assert len([e for e in session.entries if isinstance(e.node, ast.Rule)]) == 4
    assert session.script == path
    bad = tmp_path / "bad.tbs"
    bad.write_text("x = rsii(close)\n", encoding="utf-8")
    with pytest.raises(Exception) as caught:
        load_script(bad.read_text(encoding="utf-8"), bad)
    assert f"{bad}:1:5" in str(caught.value)


def test_a_higher_timeframe_expression_evaluates_with_its_resampling(eurusd_path):
    """`@ 4h` needs the plan's resampling step; the REPL must keep it (as `tradebot eval` does)."""
    from tradebot.data.loader import load_ohlcv
    from tradebot.pipeline import compile_source

    bars = load_ohlcv(eurusd_path)
    value = evaluate(check_expression(empty_session(), "rsi(close, 14) @ 4h"), bars)
    strategy = compile_source("x = rsi(close, 14) @ 4h\n", "mtf.tbs", series=["x"])
    expected = strategy.plan.evaluate(bars)["x"]
    assert value.frame["rsi(close, 14) @ 4h"].equals(expected, null_equal=True)
    assert value.frame["rsi(close, 14) @ 4h"].drop_nulls().len() > 4000
