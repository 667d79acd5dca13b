"""Hypothesis properties of the risk engine on random bars, signals and configurations.

- the compiled kernel agrees with the naive oracle `risk_reference.py` (written from the docs,
  sharing no code with the kernel) on every trade, fill, fee, flag and equity value;
- final equity = capital + sum of trade P&L (+ a ruin's shortfall); equity is never negative;
- without leverage a long position never makes cash negative;
- every fill (entries and exits) lies within its bar's [low, high], widened only by the declared
  costs (slippage and half the spread, as fractions and in price units);
- prefix invariance: the first m bars reproduce every trade the full run closed by a rule up to bar m - 1
  (except the end-of-data close), so no rule reads a future bar's prices.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.risk_reference import reference_risk_backtest
from tests.runtime.support import HOUR_MS, START_MS, money_tolerance
from tradebot.runtime import ExecutionConfig, Signals, run_backtest
from tradebot.runtime.execution import EntryOrder, Level, Rung, SideRules, Sizing

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KINDS = ("stop_loss", "take_profit", "trailing_stop", "break_even")


def ohlc_bars(draw, n: int, *, trend: bool = False) -> pl.DataFrame:
    """Random OHLC bars; `trend`: a steady rise or fall, which ruins a leveraged position."""
    drift = draw(st.sampled_from([0.05, -0.05])) if trend else 0.0
    steps = np.array(draw(st.lists(st.floats(-0.08, 0.08), min_size=n, max_size=n))) + drift
    wicks = draw(st.lists(st.floats(0.0, 0.05), min_size=2 * n, max_size=2 * n))
    close = 100.0 * np.exp(np.cumsum(steps))
    gaps = np.array(draw(st.lists(st.floats(-0.03, 0.03), min_size=n, max_size=n)))
    open_ = np.r_[100.0, close[:-1]] * np.exp(gaps)
    high = np.maximum(open_, close) * (1 + np.array(wicks[:n]))
    low = np.minimum(open_, close) * (1 - np.array(wicks[n:]))
    times = pl.Series(START_MS + HOUR_MS * np.arange(n, dtype=np.int64)).cast(pl.Datetime("ms", "UTC"))
    return pl.DataFrame({"timestamp": times, "open": open_, "high": high, "low": low, "close": close,
                         "volume": np.ones(n)})


def level_values(draw, mode: str, close: np.ndarray):
    """A constant, or a per-bar series with some missing (NaN) bars."""
    scale = {"percent": 0.03, "distance": 3.0, "price": 1.0}[mode]
    if mode != "price" and draw(st.booleans()):
        return draw(st.sampled_from([0.5, 1.0, 2.0])) * scale
    factor = draw(st.sampled_from([0.5, 1.0, 2.0]))
    # Absolute levels near the close as well as far from it: either may be on the wrong side of
    # a limit or stop entry's fill (a stop above a long's fill), the case that once filled exits
    # at prices the bar never traded.
    values = close * (1 + draw(st.sampled_from([-0.04, -0.005, 0.005, 0.04]))) if mode == "price" else (
        scale * factor * (1 + 0.5 * np.sin(np.arange(len(close)))))
    values = values.copy()
    values[:: draw(st.integers(3, 9))] = np.nan
    return values


def side_rules(draw, close: np.ndarray, *, orders: bool = False) -> dict:
    """Random rules of one side; `orders`: limit/stop entries with absolute stops and targets
    (the levels most often on the wrong side of an inside-the-bar fill)."""
    rules: dict = {}
    for kind in KINDS:
        modes = ["percent", "distance", "price"] if kind in ("stop_loss", "take_profit") else ["percent", "distance"]
        if orders and kind in ("stop_loss", "take_profit"):
            modes = ["price"]
        if draw(st.booleans()):
            mode = draw(st.sampled_from(modes))
            rules[kind] = (mode, level_values(draw, mode, close))
    if draw(st.booleans()):
        rules["exit_after"] = draw(st.integers(1, 6))
    partial_exits(draw, rules, len(close))
    kind = draw(st.sampled_from(["limit", "stop"] if orders else ["market", "limit", "stop"]))
    if kind != "market":
        offset = draw(st.sampled_from([0.01, 0.03]))
        prices = close * (1 - offset if kind == "limit" else 1 + offset)
        rules["entry"] = (kind, prices, draw(st.sampled_from([None, 1, 3])))
    return rules


def partial_exits(draw, rules: dict, n: int) -> None:
    """Sometimes a portion for the side's exit signal (a constant, or per bar with some bars
    closing everything) and sometimes a ladder of one or two rungs (docs/execution.md)."""
    if draw(st.booleans()):
        portions = st.sampled_from([0.25, 0.5, 0.7])
        rules["exit_portion"] = (draw(portions) if draw(st.booleans()) else
                                 np.array(draw(st.lists(st.sampled_from([0.25, 0.5, 1.0, np.nan]),
                                                        min_size=n, max_size=n))))
    if draw(st.booleans()):
        rungs = draw(st.sampled_from([[0.5], [0.3, 0.3], [0.5, 0.5], [0.25, 0.75]]))
        rules["ladder"] = [(mode, draw(st.sampled_from([0.01, 0.02])) * (1 if mode == "percent" else 100),
                            portion) for portion in rungs
                           for mode in [draw(st.sampled_from(["percent", "distance"]))]]


@st.composite
def risk_scenarios(draw, *, orders: bool = False, ruinous: bool = False):
    """Bars, signal flags and a config dict; `orders`: see `side_rules`; `ruinous`: trending bars
    and positions of up to 10 times the equity (docs/execution.md, "Ruin")."""
    n = draw(st.integers(2, 40))
    bars = ohlc_bars(draw, n, trend=ruinous)
    flags = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).random((4, n)) < draw(
        st.sampled_from([0.1, 0.3]))
    close = bars["close"].to_numpy()
    sizing = "equity" if ruinous else draw(st.sampled_from(["equity", "units", "cash", "risk"]))
    long, short = side_rules(draw, close, orders=orders), side_rules(draw, close, orders=orders)
    if sizing == "risk":  # risk sizing is declared with a stop on each side that trades
        for rules in (long, short):
            rules.setdefault("stop_loss", ("percent", 0.02))
    cfg = {
        "capital": 10_000.0, "fee": draw(st.sampled_from([0.0, 0.001])),
        "fee_per_order": draw(st.sampled_from([0.0, 1.0])),
        "slippage": draw(st.sampled_from([0.0, 0.002])), "slippage_price": draw(st.sampled_from([0.0, 0.05])),
        "spread": draw(st.sampled_from([0.0, 0.001])), "spread_price": draw(st.sampled_from([0.0, 0.02])),
        "fill": draw(st.sampled_from(["pessimistic", "optimistic", "open_proximity"])),
        "sizing": sizing,
        "size": {"equity": draw(st.sampled_from([1.0, 2.0, 8.0] if ruinous else [0.3, 1.0, 2.0])),
                 "units": 40.0, "cash": 3_000.0,
                 "risk": 0.02}[sizing],
        "min_qty": draw(st.sampled_from([0.0, 5.0])), "qty_step": draw(st.sampled_from([0.0, 0.5])),
        "leverage": 10.0 if ruinous else draw(st.sampled_from([1.0, 3.0])),
        "pyramiding": draw(st.sampled_from([1, 1, 3])),
        "long": long, "short": short,
    }
    return bars, flags, cfg


def to_engine(flags: np.ndarray, cfg: dict) -> tuple[Signals, ExecutionConfig]:
    """The same scenario as the runtime's inputs: series levels become named arrays."""
    levels: dict[str, np.ndarray] = {}

    def value(name: str, values):
        if isinstance(values, np.ndarray):
            levels[name] = values
            return name
        return values

    def rules(side: str) -> SideRules:
        spec = cfg[side]
        kinds = {kind: Level(spec[kind][0], value(f"{side}.{kind}", spec[kind][1]))
                 for kind in KINDS if kind in spec}
        entry = EntryOrder()
        if "entry" in spec:
            kind, prices, expire = spec["entry"]
            entry = EntryOrder(kind, value(f"{side}.entry", prices), expire)
        ladder = tuple(Rung(Level(mode, level), portion) for mode, level, portion in spec.get("ladder", ()))
        portion = spec.get("exit_portion")
        return SideRules(**kinds, exit_after=spec.get("exit_after"), entry=entry, ladder=ladder,
                         exit_portion=None if portion is None else value(f"{side}.exit_portion", portion))

    config = ExecutionConfig(
        cfg["capital"], cfg["fee"], cfg["slippage"], fee_per_order=cfg["fee_per_order"],
        slippage_price=cfg["slippage_price"], spread=cfg["spread"], spread_price=cfg["spread_price"],
        fill=cfg["fill"], sizing=Sizing(cfg["sizing"], cfg["size"], cfg["min_qty"], cfg["qty_step"]),
        leverage=cfg["leverage"], pyramiding=cfg["pyramiding"], long=rules("long"), short=rules("short"))
    return Signals(*flags, levels=levels), config


def run_scenario(scenario):
    """(bars, flags, config dict, our result)."""
    bars, flags, cfg = scenario
    return bars, flags, cfg, run_backtest(bars, *to_engine(flags, cfg))


ANY_SCENARIO = st.one_of(risk_scenarios(), risk_scenarios(orders=True), risk_scenarios(ruinous=True))


@SETTINGS
@given(ANY_SCENARIO)
def test_kernel_matches_the_naive_risk_reference(scenario):
    bars, flags, cfg, result = run_scenario(scenario)
    columns = {k: bars[k].to_list() for k in ("open", "high", "low", "close")}
    names = ("enter_long", "exit_long", "enter_short", "exit_short")
    trades, equity, position, (ruined, shortfall) = reference_risk_backtest(
        columns, dict(zip(names, flags)), cfg)
    assert (result.ruin.bar if result.ruin else None) == ruined
    money = money_tolerance(result.trades, cfg["capital"])
    assert (result.ruin.shortfall if result.ruin else 0.0) == pytest.approx(shortfall, rel=1e-9, abs=money)
    keys = ("side", "entry_bar", "exit_bar", "exit_reason", "ambiguous")
    assert result.trades.select(keys).rows() == [tuple(t[k] for k in keys) for t in trades]
    for column in ("entry_price", "exit_price", "qty", "fees", "pnl"):
        assert result.trades[column].to_list() == pytest.approx([t[column] for t in trades],
                                                                rel=1e-9, abs=1e-9), column
    assert result.equity["equity"].to_list() == pytest.approx(equity, rel=1e-9, abs=money)
    assert result.equity["position"].to_list() == pytest.approx(position, rel=1e-9, abs=1e-12)


@SETTINGS
@given(ANY_SCENARIO)
def test_accounting_identities(scenario):
    bars, _, cfg, result = run_scenario(scenario)
    final = result.equity["equity"][-1]
    shortfall = result.ruin.shortfall if result.ruin else 0.0
    assert final == pytest.approx(cfg["capital"] + result.trades["pnl"].sum() + shortfall,
                                  rel=1e-9, abs=1e-6)
    assert result.equity["equity"].min() >= 0.0  # "Ruin": never below zero, leverage or not
    if result.ruin:  # nothing trades after the ruin
        assert result.trades["exit_bar"].max() <= result.ruin.bar
        assert set(result.equity["equity"][result.ruin.bar:]) == {final}
    if cfg["leverage"] == 1.0:
        held = result.equity["position"].to_numpy()
        cash = result.equity["equity"].to_numpy() - held * bars["close"].to_numpy()
        assert np.all(cash[held > 0] >= -1e-6 * cfg["capital"])  # no borrowing to buy


@SETTINGS
@given(ANY_SCENARIO, st.data())
def test_prefix_invariance(scenario, data):
    bars, flags, cfg, full = run_scenario(scenario)
    m = data.draw(st.integers(1, bars.height), label="prefix length")
    signals, config = to_engine(flags, cfg)
    short = Signals(*(f[:m] for f in flags), levels={k: v[:m] for k, v in signals.levels.items()})
    prefix = run_backtest(bars.head(m), short, config)
    settled = pl.col("exit_reason") != "end_of_data"
    expected = full.trades.filter(settled, pl.col("exit_bar") <= m - 1)
    assert prefix.trades.filter(settled, pl.col("exit_bar") <= m - 1).rows() == expected.rows()
    assert prefix.equity["equity"].to_list()[:-1] == full.equity["equity"].to_list()[:m - 1]


def bar_range_with_costs(bars: pl.DataFrame, cfg: dict, bar: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest fill a bar allows: a sell at its low and a buy at its high, moved
    against the trader by the largest declared cost (a market-type fill's)."""
    frac = cfg["slippage"] + cfg["spread"] / 2
    absolute = cfg["slippage_price"] + cfg["spread_price"] / 2
    low, high = bars["low"].to_numpy()[bar], bars["high"].to_numpy()[bar]
    return low * (1 - frac) - absolute, high * (1 + frac) + absolute


@SETTINGS
@given(ANY_SCENARIO)
def test_every_fill_lies_within_its_bar_widened_only_by_costs(scenario):
    bars, _, cfg, result = run_scenario(scenario)
    trades = result.trades
    for moment in ("entry", "exit"):
        price = trades[f"{moment}_price"].to_numpy()
        lowest, highest = bar_range_with_costs(bars, cfg, trades[f"{moment}_bar"].to_numpy())
        tolerance = 1e-12 * highest
        outside = (price < lowest - tolerance) | (price > highest + tolerance)
        assert not outside.any(), trades.filter(pl.Series(outside)).to_dicts()
