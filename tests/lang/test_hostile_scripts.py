"""Hostile and unusual scripts (issue 10): each gives diagnostics with a caret, never a traceback."""
from __future__ import annotations

import datetime as dt
import pickle

import numpy as np
import polars as pl
import pytest

from tradebot.cli import main
from tradebot.lang import ir, parser
from tradebot.lang.checker import check, check_source
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.optimize_check import MAX_TRIALS
from tradebot.lang.parser import parse_program
from tradebot.lang.resolve import MAX_EXPANSIONS, MAX_WHOLE
from tradebot.pipeline import backtest, compile_source


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


# ---------------------------------------------------------------- 10.7: a UTF-8 byte-order mark
BOM = "\ufeff"


def test_a_byte_order_mark_is_not_a_syntax_error() -> None:
    program = parse_program(BOM + "x = close\nenter long when x > open\n")
    first = program.statements[0]
    assert (first.span.line, first.span.column, first.span.start) == (1, 1, 0)


def test_carets_on_the_first_line_of_a_bom_file_stay_under_the_word(tmp_path, capsys) -> None:
    path = tmp_path / "notepad.tbs"
    path.write_bytes((BOM + "enter long when close > opn\n").encode("utf-8"))
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{path}:1:25: error: unknown name `opn`" in err
    assert "    1 | enter long when close > opn\n      |                         ^^^\n" in err


def test_compile_source_accepts_a_bom_in_text() -> None:
    strategy = compile_source(BOM + "enter long when close > open\n", "t.tbs")
    assert strategy.checked.source.startswith("enter")


# ---------------------------------------------------------------- 10.4: numbers too large
def check_errors(source: str) -> ScriptDiagnostics:
    with pytest.raises(ScriptDiagnostics) as caught:
        check(parse_program(source, "t.tbs"), source=source, filename="t.tbs")
    return caught.value


@pytest.mark.parametrize("literal", ["9" * 309, "1" * 4301, "1e309", "1_000e400"])
def test_a_literal_beyond_the_largest_float_is_a_script_error(literal: str) -> None:
    err = syntax_errors(f"x = {literal} + close\nenter long when x > open\n")
    [diag] = err.diagnostics
    assert "too large" in diag.message and (diag.span.line, diag.span.column) == (1, 5)
    assert diag.span.end_column - diag.span.column == len(literal) and diag.hint


def test_a_huge_percentage_is_a_script_error() -> None:
    [diag] = syntax_errors("fee " + "9" * 400 + "%\n").diagnostics
    assert "too large" in diag.message


@pytest.mark.parametrize("expr, column", [
    ("sma(close, 1e38)", 16), ("close[1e38]", 11), ("close > open for 1e20 bars", 22),
    ("round(close, 1e38)", 18), ("percentrank(close, 10^12)", 24), ("wma(close, 10^9)", 16),
    ("close[10^400]", 11), ("close[10^10^10]", 11), ("sma(close, 2^1024)", 16),
])
def test_an_absurd_window_offset_or_count_is_a_script_error(expr: str, column: int) -> None:
    # Before: OverflowError/ValueError tracebacks, or a check that hung building the window.
    [diag] = check_errors(f"x = {expr}\nenter long when x > open\n").diagnostics
    assert (diag.span.line, diag.span.column) == (1, column)
    assert "too large" in diag.message or f"at most {MAX_WHOLE:,}" in diag.message
    assert diag.hint


def test_folded_whole_numbers_stay_whole() -> None:
    checked = check(parse_program("x = sma(close, 2 * 10 + 1)\n"), source="", filename="t.tbs")
    assert checked.series["x"].args[1].value == 21


# ---------------------------------------------------------------- 10.10: windows longer than the data
def hourly_bars(n: int) -> pl.DataFrame:
    close = np.linspace(100.0, 120.0, n)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": [start + dt.timedelta(hours=i) for i in range(n)],
        "open": close, "high": close + 1, "low": close - 1, "close": close, "volume": np.ones(n),
    }).with_columns(pl.col("timestamp").dt.cast_time_unit("ms"))


@pytest.mark.parametrize("expr, column, bars", [
    ("wma(close, 5000000)", 16, 5_000_000), ("close[400]", 5, 400),
    ("sma(close, 300) @ 4h", 16, 300), ("ema(close, 10) + sma(close, 250)", 33, 250),
])
def test_a_run_refuses_a_window_longer_than_the_data(expr: str, column: int, bars: int) -> None:
    strategy = compile_source(f"x = {expr}\nenter long when x > open\n", "t.tbs")
    with pytest.raises(ScriptDiagnostics) as caught:
        backtest(strategy, hourly_bars(200))
    [diag] = caught.value.diagnostics
    assert diag.message == f"a window of {bars:,} bars is longer than the data (200 bars)"
    assert (diag.span.line, diag.span.column) == (1, column) and diag.hint
    assert "    1 | x = " in caught.value.render()


def test_a_prefix_of_the_data_may_be_shorter_than_a_window() -> None:
    # Warm-up, not an error: the appended-bars properties and walk-forward folds evaluate prefixes.
    strategy = compile_source("x = sma(close, 50)\nenter long when x > open\n", "t.tbs", series=["x"])
    frame = strategy.plan.evaluate(hourly_bars(20))
    assert frame["x"].null_count() == 20
    assert backtest(strategy, hourly_bars(50)).trades is not None


# ---------------------------------------------------------------- 10.11: doubling definitions
def doubling_definitions(n: int) -> str:
    lines = ["a0 = close", *(f"a{i} = a{i - 1} + a{i - 1}" for i in range(1, n + 1))]
    return "\n".join([*lines, f"enter long when a{n} > 0", ""])


def doubling_functions(n: int) -> str:
    lines = ["def f0(x) = x", *(f"def f{i}(x) = f{i - 1}(x) + f{i - 1}(x)" for i in range(1, n + 1))]
    return "\n".join([*lines, f"x = f{n}(close)", "enter long when x > 0", ""])


@pytest.mark.parametrize("source, name, factor", [
    (doubling_definitions(60), "a60", 2.0 ** 60), (doubling_functions(40), "x", 2.0 ** 40),
])
def test_doubling_definitions_resolve_to_a_shared_graph(source: str, name: str, factor: float) -> None:
    # Each line doubles the expression's tree; its graph grows by one node (was 2^n work).
    strategy = compile_source(source, "t.tbs", series=[name])
    assert len(list(ir.walk(strategy.checked.signals["enter_long"]))) < 200
    bars = hourly_bars(5)
    np.testing.assert_allclose(strategy.plan.evaluate(bars)[name].to_numpy(), bars["close"].to_numpy() * factor)


def test_two_compiles_of_doubling_definitions_compare_in_linear_time() -> None:
    # Caches keyed by nodes (the position program, the stateful bytecode) compare the nodes of a
    # second compile with the first's: equal graphs of different objects. The dataclass equality
    # walked every path (2^60 here) and hung the fuzzer on a mutated example.
    first, second = (compile_source(doubling_definitions(60), "t.tbs").checked.signals["enter_long"]
                     for _ in range(2))
    assert first is not second and first == second and hash(first) == hash(second)
    other = compile_source(doubling_definitions(60).replace("a0 = close", "a0 = open"), "t.tbs")
    assert other.checked.signals["enter_long"] != first


def test_user_function_expansion_is_bounded_with_one_clear_error() -> None:
    lines = ["def f0(x) = x", *(f"def f{i}(x) = f{i - 1}(x + 1) + f{i - 1}(x * 2)" for i in range(1, 30))]
    source = "\n".join([*lines, "enter long when f29(close) > 0", ""])
    [diag] = check_errors(source).diagnostics
    assert diag.message == f"user functions expand to too large an expression (limit {MAX_EXPANSIONS:,} different calls)"
    assert diag.hint


def test_a_pickled_node_hashes_by_its_structure_in_the_new_process() -> None:
    node = check(parse_program("x = sma(close, 5) + 1\n"), source="", filename="t").series["x"]
    hash(node)  # cached on the node
    assert "_hash" not in node.__getstate__()
    copy = pickle.loads(pickle.dumps(node))
    assert copy == node and hash(copy) == hash(node)


# ---------------------------------------------------------------- 10.12 / 11.6: every mistake at once
def all_errors(source: str) -> ScriptDiagnostics:
    with pytest.raises(ScriptDiagnostics) as caught:
        check_source(source, "t.tbs")
    return caught.value


def offset_of(source: str, line: int, column: int) -> int:
    return sum(len(text) + 1 for text in source.split("\n")[:line - 1]) + column - 1


def test_an_unclosed_bracket_does_not_hide_the_other_errors() -> None:
    # /work/shared/FIRST-HOUR.md §7, b1.tbs: was 1 error of 5.
    source = ('strategy "bad 1"\nfee 0.05\ncapital = 5000\nparam n = 50 in 5..30\n'
              'param m = 10 in 20..5\nr = rsi(close, n\nenter long when r < 30\n')
    diags = all_errors(source).diagnostics
    assert [(d.span.line, d.message) for d in diags] == [
        (2, "`fee` is a percentage"), (3, "`capital` is a setting, not a variable"),
        (4, "the default 50 of `n` is outside its range 5..30"), (5, "the range of `m` is empty: 20 > 5"),
        (6, "`(` is never closed")]  # and no "unknown name `r`" on line 7: its line did not parse


@pytest.mark.parametrize("broken_line", ["x = ta.rsi(close)", "enter long when fast crosses slow",
                                         "x = 1e999", "def f(a) = (a"])
def test_a_syntax_error_still_lets_the_checker_report_the_rest(broken_line: str) -> None:
    source = f"fast = ema(close, 5)\nslow = ema(close, 20)\n{broken_line}\nfee 2\nx2 = closee\n"
    diags = all_errors(source).diagnostics
    assert [d.span.line for d in diags] == [3, 4, 5]


def test_spans_of_recovered_statements_point_into_the_script() -> None:
    source = "# lead\n\nx = sma(close,\n  20)\ny = +\n\nz = rsii(close, 3)\nw = (\nenter long when q > 1\n"
    diags = all_errors(source).diagnostics
    assert [(d.span.line, d.span.column) for d in diags] == [(5, 5), (7, 5), (8, 5), (9, 17)]
    for d in diags:
        assert d.span.start == offset_of(source, d.span.line, d.span.column)


def test_a_statement_continued_at_column_one_inside_brackets_stays_one_statement() -> None:
    diags = all_errors("x = sma(close,\n20)\ny = +\n").diagnostics
    assert [d.span.line for d in diags] == [3]


def test_thousands_of_bad_lines_are_each_reported_once_and_rendered_with_a_cap() -> None:
    source = "".join(f"x{i} = close +\n" for i in range(2000))
    err = syntax_errors(source)
    assert [d.span.line for d in err.diagnostics] == list(range(1, 2001))
    assert "... and 1980 more" in err.render()


# ---------------------------------------------------------------- 10.5: deep nesting
def chain(n: int) -> str:
    return "\n".join(["a0 = close", *(f"a{i} = a{i - 1} + 1" for i in range(1, n + 1)), f"enter long when a{n} > 0", ""])


def nested_conditions(n: int) -> str:
    """`if` in the condition of `if`, n deep, each condition over arithmetic: each condition is
    read twice by `if`'s lowering and once more by its NaN check, which Polars expanded into a
    tree (14 levels took 2 s, 16 exhausted the memory) before they became columns."""
    x = "close"
    for _ in range(n):
        x = f"(if {x} * 1 - open > 0 then close else open)"
    return f"x = {x}\nenter long when x > 0\n"


@pytest.mark.parametrize("source, ok", [
    ("x = " + "-" * 180 + "close\nenter long when x > 0\n", True),
    ("x = " + "-" * 400 + "close\nenter long when x > 0\n", False),
    ("x = " + "abs(" * 90 + "close" + ")" * 90 + "\nenter long when x > 0\n", True),
    ("x = " + "abs(" * 300 + "close" + ")" * 300 + "\nenter long when x > 0\n", False),
    ("x = " + " + ".join(["close"] * 190) + "\nenter long when x > 0\n", True),
    ("x = " + "(" * 1000 + "close" + ")" * 1000 + "\nenter long when x > 0\n", True),  # brackets add no level
    (chain(190), True), (chain(400), False),
    ("def f0(a) = a\n" + "".join(f"def f{i}(a) = f{i - 1}(a) + 1\n" for i in range(1, 300))
     + "enter long when f299(close) > 0\n", False),
    ("enter long when close > open\n" * 2000, True),  # 2,000 rules for one signal: a balanced `or`
    (nested_conditions(40), True),
    ("x = close" + " ^ close" * 60 + "\nenter long when x > 0\n", True),  # `^` reads its operands thrice
    ("x = close" + " + close * 1" * 150 + "\nenter long when x > 0\n", True),
])
def test_deep_nesting_compiles_or_is_refused_with_a_clear_error(source: str, ok: bool) -> None:
    # Was RecursionError in the transformer, the resolver or the compiler from ~200-330 levels.
    if not ok:
        diags = all_errors(source).diagnostics
        assert len(diags) == 1 and "expression nested too deeply (limit" in diags[0].message
        return
    strategy = compile_source(source, "t.tbs")
    signals = strategy.plan.evaluate(hourly_bars(10))
    assert signals["enter_long"].len() == 10


def test_an_expression_too_deep_for_the_repl_is_refused() -> None:
    with pytest.raises(ScriptDiagnostics) as caught:
        parser.parse_expression("-" * 500 + "close")
    assert "nested too deeply" in caught.value.diagnostics[0].message


# ---------------------------------------------------------------- 10.13: bounded trials
@pytest.mark.parametrize("method", ["bayes", "random"])
def test_a_search_with_more_trials_than_the_bound_is_a_script_error(method: str) -> None:
    source = f"param n = 10 in 5..50\nenter long when close > sma(close, n)\n" \
             f"optimize maximize sharpe by {method} trials 1000000000000\n"
    [diag] = check_errors(source).diagnostics
    assert diag.message == f"`by {method}` takes at most {MAX_TRIALS[method]:,} trials, got 1,000,000,000,000"
    assert (diag.span.line, diag.span.column) == (3, 30 + len(method)) and diag.hint
    ok = source.replace("1000000000000", str(MAX_TRIALS[method]))
    assert check(parse_program(ok), source=ok, filename="t.tbs").optimize.trials == MAX_TRIALS[method]


@pytest.mark.parametrize("statement, column", [("exit after 1e38 bars", 12),
                                               ("enter long at limit close expire 1e38 bars", 34)])
def test_an_absurd_time_limit_is_a_script_error(statement: str, column: int) -> None:
    # Was an OverflowError traceback when the engine converted it to a C long.
    [diag] = check_errors(f"enter long when close > open\n{statement}\n").diagnostics
    assert (diag.span.line, diag.span.column) == (2, column)
    assert f"from 1 to {MAX_WHOLE:,}" in diag.message


@pytest.mark.parametrize("call", ["wma(close, 9_000_000)", "hma(close, 9_000_000)", "trima(close, 9_000_000)"])
def test_compiling_a_huge_weighted_window_builds_no_window_sized_array(call: str) -> None:
    # Issue 10.10: the 9e6 weights of a wma were made when the plan was built, so `check` alone
    # took 1.2 s and 490 MB; they are made when the plan runs on data (which refuses the window).
    import tracemalloc

    tracemalloc.start()
    try:
        compile_source(f"enter long when {call} > 0\nexit long when close < open\n", filename="s.tbs")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20 * 2**20, f"compiling {call} peaked at {peak / 2**20:.0f} MB"
