"""Partial exits in the language: `exit long 50% when ...` and `take_profit long 2% exit 50%`
(tradebot/lang/portions.py, risk_check.py): their errors, the per-bar portion series, params, and
the seam to the engine (`execution_config`, `engine_nodes`)."""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from tests.runtime.support import make_bars
from tradebot.lang import ir, reference
from tradebot.lang.checker import check_source
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.statements import program as unparse_program
from tradebot.lang.parser import parse_program
from tradebot.pipeline import compile_source, engine_nodes, execution_config
from tradebot.runtime.execution import Level, Rung

from .strategies import expressions, ohlcv

_, CONDITION = expressions()
ENTER = "enter long when close > open\n"


def errors(source: str) -> list[tuple[int, int, str, str | None]]:
    with pytest.raises(ScriptDiagnostics) as caught:
        check_source(source, "t.tbs")
    return [(d.span.line, d.span.column, d.message, d.hint) for d in caught.value.diagnostics]


@pytest.mark.parametrize("line, column, message, hint", [
    ("exit long 0% when close < open", 11, "closing 0% of the position closes nothing", "above 0%"),
    ("exit long 150% when close < open", 11, "cannot close 150% of the position", "% sign"),
    ("param p = 5\nexit long p when close < open", 11, "is a percentage, got 5", "write the % sign"),
    ("enter short 50% when close < open", 13, "an entry takes no portion", "size 50% of equity"),
    ("take_profit long 2% exit 0%", 26, "closing 0% of the position closes nothing", None),
    ("stop_loss long 2% exit 50%", 24, "only a target closes part of the position", "take_profit"),
    ("take_profit long 3 * atr(14) exit 20%", 18, "a rung's target is a constant", "param"),
    ("take_profit long at high exit 20%", 21, "a rung's target is a constant", None),
])
def test_a_bad_portion_is_an_error_at_its_place_with_a_hint(line, column, message, hint):
    found = errors(ENTER + line + "\n")
    row = 2 + line.count("\n")
    assert any(l == row and c == column and message in m and (hint is None or hint in (h or ""))
               for l, c, m, h in found), found


def test_ladder_portions_adding_up_to_more_than_all_of_an_entry_are_an_error():
    found = errors(ENTER + "take_profit long 1% exit 60%\ntake_profit 2% exit 50%\n")
    assert [(l, c, m) for l, c, m, _ in found] == [
        (3, 21, "the long ladder's targets close 110% of an entry: more than all of it")]
    assert "lines 2" in found[0][3]


def test_a_plain_target_beside_a_ladder_closing_everything_has_nothing_left():
    found = errors(ENTER + "take_profit long 1% exit 50%\ntake_profit long 2% exit 50%\n"
                   "take_profit long 3%\n")
    assert [(l, m.split(",")[0]) for l, _, m, _ in found] == [
        (4, "the long ladder already closes 100% of each entry")]


def test_more_than_four_rungs_are_an_error():
    rungs = "".join(f"take_profit long {i}% exit 10%\n" for i in range(1, 6))
    assert [(l, m) for l, _, m, _ in errors(ENTER + rungs)] == [
        (6, "a side has at most 4 laddered targets")]


def test_forgetting_when_after_a_name_points_at_the_name():
    # `close` could be an exit's portion (`exit long half when`): the error is still at `close`.
    with pytest.raises(ScriptDiagnostics) as caught:
        parse_program("enter long close > open\n", "t.tbs")
    [diagnostic] = caught.value.diagnostics
    assert (diagnostic.span.column, diagnostic.message) == (12, "unexpected `close`")


def test_the_portion_series_takes_the_largest_part_among_the_rules_that_fire():
    source = (ENTER + "exit long 25% when close > open\nexit long 50% when close < open\n"
              "exit long when close < sma(close, 3)\n")
    strategy = compile_source(source, "t.tbs")
    bars = make_bars([10, 11, 12, 11, 10], [11, 12, 11, 10, 11])
    frame = strategy.plan.evaluate(bars)
    # sma(close, 3) is missing on bars 0-1: its rule does not fire there, and it does not hide
    # the others (a missing condition counts as false, not as "everything").
    # Bars 2 and 3 fire all three (close below its open and below sma 11.33, 11): everything.
    assert frame["long.exit_portion"].to_list() == [0.25, 0.25, 1.0, 1.0, 0.25]
    assert frame["exit_long"].to_list() == [True] * 5


def test_one_portion_is_a_constant_and_exits_without_portions_have_none():
    checked = compile_source(ENTER + "exit long 40% when close < open\n", "t.tbs").checked
    assert checked.risk.long.exit_portion == ir.Const(0.4, checked.risk.long.exit_portion.type)
    assert execution_config(checked).long.exit_portion == 0.4
    plain = compile_source(ENTER + "exit long when close < open\n", "t.tbs").checked
    assert plain.risk.long.exit_portion is None
    assert "long.exit_portion" not in engine_nodes(plain)


def test_portions_may_be_params_and_overridden():
    source = (ENTER + "param part = 50% in 10%..90% step 10%\nparam rung = 30% in 10%..50% step 10%\n"
              "take_profit long 1% exit rung\nexit long part when close < open\n")
    config = execution_config(compile_source(source, "t.tbs", overrides={"part": 0.2, "rung": 0.4}).checked)
    assert config.long.exit_portion == pytest.approx(0.2)
    [rung] = config.long.ladder
    assert (rung.level, rung.portion) == (Level("percent", 0.01), pytest.approx(0.4))
    assert config.short.ladder == ()


def test_a_rung_without_a_side_applies_to_both_and_the_forms_round_trip():
    source = ENTER + "take_profit 2% exit 50%\nexit short 30% when close > open\n"
    config = execution_config(compile_source(source, "t.tbs").checked)
    assert config.long.ladder == config.short.ladder == (Rung(Level("percent", 0.02), 0.5),)
    text = unparse_program(parse_program(source, "t.tbs"))
    assert "take_profit 2% exit 50%" in text and "exit short 30% when" in text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditions=st.tuples(CONDITION, CONDITION, CONDITION), bars=ohlcv(min_bars=3), data=st.data())
def test_the_portion_series_on_random_rules_is_the_largest_firing_part_and_never_looks_ahead(
        conditions, bars, data):
    """Against the naive reference evaluator (each condition read bar by bar, missing = not
    firing) and a plain max over the rules; and on the first t bars the first t values of all."""
    c50, c25, c_all = conditions
    source = (f"c1 = {c50}\nc2 = {c25}\nc3 = {c_all}\nenter long when close > open\n"
              "exit long 50% when c1\nexit long 25% when c2\nexit long when c3\n")
    try:
        strategy = compile_source(source, "gen.tbs")
    except ScriptDiagnostics:
        reject()  # a condition that is a compile error by design (constant folding)
    frame = strategy.plan.evaluate(bars)
    columns = {c: bars[c].to_numpy() for c in ("timestamp", "open", "high", "low", "close", "volume")}
    fired = [reference.as_condition(reference.evaluate(strategy.checked.series[name], columns))
             for name in ("c1", "c2", "c3")]
    expected = np.full(bars.height, np.nan)
    for portion, firing in zip((0.5, 0.25, 1.0), fired):
        expected = np.where(firing, np.fmax(expected, portion), expected)
    portion = frame["long.exit_portion"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    np.testing.assert_array_equal(portion, expected, err_msg=source)
    assert (frame["exit_long"].to_numpy() == np.logical_or.reduce(fired)).all()
    t = data.draw(st.integers(1, bars.height - 1), label="t")
    prefix = strategy.plan.evaluate(bars.head(t))["long.exit_portion"].cast(pl.Float64).fill_null(np.nan)
    np.testing.assert_array_equal(prefix.to_numpy(), portion[:t])



def test_reports_show_the_parts_a_side_exits_as_written():
    from tradebot.lang.explain import risk_as_written
    source = ENTER + "exit long 25% when close > open\nexit long when close < open\n"
    assert risk_as_written(compile_source(source, "t.tbs").checked) == {
        "long.exit_portion": "25%, all (the largest of the rules that fire)"}
