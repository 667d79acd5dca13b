"""Checking risk statements into values and rules, their errors and warnings, and the pipeline
seam (`execution_config`, `engine_nodes`, `compile_engine_plan`, `backtest_from_frame`)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tradebot.lang import ir
from tradebot.lang.checker import check
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.parser import parse_program
from tradebot.lang.settings import SETTINGS
from tradebot.pipeline import (backtest, backtest_from_frame, bundled_data_path, compile_engine_plan,
                               compile_source, engine_nodes, execution_config, load_bars)
from tradebot.runtime.execution import EntryOrder, Level, Sizing

SCRIPT = """param sl = 2% in 1%..4% step 1%
stop_loss long sl
stop_loss short at highest(high, 10)
take_profit 3 * atr(14)
trailing_stop short 1.5%
break_even long 1%
size risk 1% to stop
fee 0.05%
fee 1 per order
tick_size 0.0001
slippage 2 ticks
spread 1 tick
fill open_proximity
pyramiding 2
leverage 3
min_qty 0.01
qty_step 0.01
exit long after 24 bars
enter long at limit close * 0.99 expire 3 bars
enter long when close > open
enter short when close < open
"""


def checked(source: str, **options):
    return check(parse_program(source, "t.tbs"), source=source, filename="t.tbs", **options)


def errors(source: str) -> list:
    with pytest.raises(ScriptDiagnostics) as caught:
        checked(source)
    return list(caught.value.diagnostics)


def test_risk_rules_per_side_with_modes():
    risk = checked(SCRIPT).risk
    long, short = risk.long, risk.short
    assert long.levels["stop_loss"].mode == "percent" and long.levels["stop_loss"].value.value == 0.02
    assert short.levels["stop_loss"].mode == "price" and isinstance(short.levels["stop_loss"].value, ir.Call)
    assert long.levels["take_profit"].mode == short.levels["take_profit"].mode == "distance"
    assert "trailing_stop" not in long.levels and short.levels["trailing_stop"].mode == "percent"
    assert (long.exit_after, short.exit_after) == (24, None)
    assert long.entry.kind == "limit" and long.entry.expire == 3 and short.entry is None


def test_settings_values_and_their_defaults():
    settings = checked(SCRIPT).settings
    assert settings["size"] == ("risk", 0.01)
    assert (settings["fee"], settings["fee_per_order"]) == (0.0005, 1.0)
    assert (settings["slippage_ticks"], settings["spread_ticks"], settings["tick_size"]) == (2.0, 1.0, 0.0001)
    assert (settings["fill"], settings["pyramiding"], settings["leverage"]) == ("open_proximity", 2, 3.0)
    plain = checked("enter long when close > open\n").settings
    assert (plain["size"], plain["fill"], plain["pyramiding"], plain["fee_per_order"]) == (
        ("equity", 1.0), "pessimistic", 1, 0.0)


def test_risk_values_may_be_params_and_follow_overrides():
    risk = checked(SCRIPT, overrides={"sl": 0.03}).risk
    assert risk.long.levels["stop_loss"].value.value == 0.03
    source = "param lev = 2 in 1..3\nparam n = 12 in 6..48\nleverage lev\nexit after n bars\nenter long when close > open\n"
    program = checked(source, overrides={"lev": 3, "n": 6})
    assert program.settings["leverage"] == 3.0 and program.risk.long.exit_after == 6


def test_execution_config_maps_every_setting():
    config = execution_config(checked(SCRIPT))
    assert (config.fee, config.fee_per_order) == (0.0005, 1.0)
    assert config.slippage_price == pytest.approx(0.0002) and config.spread_price == pytest.approx(0.0001)
    assert config.sizing == Sizing("risk", 0.01, 0.01, 0.01)
    assert (config.fill, config.pyramiding, config.leverage) == ("open_proximity", 2, 3.0)
    assert config.long.stop_loss == Level("percent", 0.02)
    assert config.long.take_profit == Level("distance", "long.take_profit")
    assert config.short.stop_loss == Level("price", "short.stop_loss")
    assert config.long.entry == EntryOrder("limit", "long.entry", 3)
    assert config.long.exit_after == 24 and config.short.exit_after is None


def test_engine_nodes_name_every_risk_series_and_leave_constants_to_the_config():
    nodes = engine_nodes(checked(SCRIPT))
    assert list(nodes) == ["enter_long", "exit_long", "enter_short", "exit_short", "long.take_profit",
                           "long.entry", "short.stop_loss", "short.take_profit"]
    assert all(not isinstance(node, ir.Const) for name, node in nodes.items() if "." in name)


def test_one_engine_plan_for_several_programs_gives_each_its_own_backtest():
    bars = load_bars(bundled_data_path())
    variants = [checked(SCRIPT, overrides={"sl": value}) for value in (0.01, 0.04)]
    frame = compile_engine_plan(variants).evaluate(bars)
    for i, program in enumerate(variants):
        batched = backtest_from_frame(program, bars, frame, prefix=f"{i}.")
        alone = backtest(compile_source(SCRIPT, "t.tbs", overrides={"sl": program.params[0].value}), bars)
        assert batched.trades.rows() == alone.trades.rows()
        assert batched.trades.height > 10
    assert variants[0].risk != variants[1].risk


@pytest.mark.parametrize(("source", "line", "column", "message"), [
    ("size risk 1% to stop\nenter short when close < open\n", 1, 1, "short entries have none"),
    ("size 200% of equity\n", 1, 1, "needs more than the leverage allows"),
    ("slippage 2 ticks\n", 1, 1, "needs the instrument's tick size"),
    ("stop_loss 0%\n", 1, 11, "must be more than 0"),
    ("stop_loss 150%\n", 1, 11, "must be at most 99%"),
    ("stop_loss close > open\n", 1, 11, "takes a number"),
    ("enter long at limit close > open\n", 1, 21, "must be a number"),
    ("exit after n bars\nn = close\n", 1, 12, "constant whole number"),
    ("stop_loss long 2%\nstop_loss long 3%\n", 2, 1, "set twice"),
    ("enter long at limit close\nenter long at stop close\n", 2, 1, "given twice"),
    ("fill fast\n", 1, 6, "one of pessimistic"),
    ("size 2 lot\n", 1, 8, "not a form of `size`"),
    ("size risk 1%\n", 1, 1, "ends with `to stop`"),
    ("slippage 2\n", 1, 10, "is a percentage"),
])
def test_errors_name_the_place_and_say_why(source, line, column, message):
    found = [d for d in errors(source) if message in d.message]
    assert found, [d.message for d in errors(source)]
    assert (found[0].span.line, found[0].span.column) == (line, column)


@pytest.mark.parametrize(("source", "message"), [
    ("enter short at limit close\nenter long when close > open\n", "no `enter short when"),
    ("stop_loss at lowest(low, 5)\nenter long when close > open\nenter short when close < open\n",
     "applies one price to longs and shorts"),
    ("pyramiding 3\nenter long when close > open\n", "added entries find nothing"),
])
def test_warnings(source, message):
    warnings = [w.message for w in checked(source).warnings]
    assert any(message in w for w in warnings), warnings


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_every_form_example_checks(name):
    for form in SETTINGS[name].forms:
        extra = "\ntick_size 0.0001" if "tick" in form.example else ""
        stop = "\nstop_loss 2%" if "risk" in form.example else ""
        compile_source(form.example + extra + stop + "\nenter long when close > open\n", f"{name}.tbs")


def test_the_spec_risk_example_checks_cleanly():
    doc = (Path(__file__).resolve().parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    block = doc.split("### Risk and execution", 1)[1].split("```", 2)[1]
    program = checked(block + "enter long when close > open\nenter short when close < open\n")
    assert not program.warnings
    assert program.risk.long.entry.kind == "limit" and program.risk.short.levels["stop_loss"].mode == "price"
