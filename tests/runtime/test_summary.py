"""The compiled metrics pass (runtime/summary.py) against the numpy definitions in metrics.py:
every metric of every section, on random backtests (ruined accounts included), and on trades
given as a frame or as the kernel's records; and against the pass as it was before it was made
faster (summary_reference.py), bit for bit."""
from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradebot.runtime import run_backtest, summary
from tradebot.runtime.metrics import equity_metrics, trade_metrics

from . import summary_reference
from .support import scenarios


def numpy_metrics(result, close: np.ndarray) -> dict[str, dict]:
    """metrics.py's definitions, section by section, on a result's frames."""
    equity, position = result.equity["equity"].to_numpy(), result.equity["position"].to_numpy()
    everything = {**equity_metrics(equity, result.equity["timestamp"], capital=result.config.capital,
                                   bars_per_year=result.bars_per_year),
                  "buy_and_hold_return_pct": 100.0 * (close[-1] / close[0] - 1.0),
                  **trade_metrics(result.trades, exposed=position != 0)}
    sides = {side: trade_metrics(result.trades.filter(pl.col("side") == side), exposed=position * sign > 0)
             for side, sign in (("long", 1.0), ("short", -1.0))}
    return {"all": everything, **sides}


def same(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


@settings(max_examples=150, deadline=None)
@given(scenarios(min_bars=1))
def test_the_compiled_pass_equals_the_numpy_definitions(scenario) -> None:
    bars, signals, config = scenario
    result = run_backtest(bars, signals, config)
    expected = numpy_metrics(result, bars["close"].to_numpy())
    assert {s: list(m) for s, m in result.metrics.items()} == {s: list(m) for s, m in expected.items()}
    for section, metrics in expected.items():
        for key, value in metrics.items():
            got = result.metrics[section][key]
            assert same(got, value), (section, key, got, value)
            assert type(got) is type(value) or isinstance(value, float), (section, key)


# Values that make the order of additions and the choice among equal extremes visible: signed
# zeros, ties, magnitudes that round differently when summed in another order.
_AWKWARD = st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.1, -0.1, 1e-17, -1e-17, 3.0, 1e16, -1e16, 1e-300])
_FINITE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def curves_and_trades(draw):
    """The arrays `summarize` takes, NaN-free as the kernel gives them: an equity curve that may
    hit zero or go negative (an account blown through its margin), its drawdown (or arbitrary
    values, signed zeros and ties included), any positions, any clock; trades of both sides, one
    side only, or none."""
    n = draw(st.integers(0, 41))
    moves = draw(st.lists(st.one_of(st.floats(-0.5, 0.5), st.sampled_from([0.0, -1.0, -1.5])),
                          min_size=n, max_size=n))
    start = np.float64(draw(st.sampled_from([1.0, 1e4, 3.7])))
    equity = start * np.cumprod(1.0 + np.array(moves, dtype=np.float64))
    if draw(st.booleans()):
        drawdown = equity / np.maximum.accumulate(np.maximum(equity, 1e-300)) - 1.0
    else:
        values = draw(st.sampled_from([_AWKWARD, st.sampled_from([0.0, -0.0, 0.5])]))  # zeros in every lane
        drawdown = np.array(draw(st.lists(values, min_size=n, max_size=n)), dtype=np.float64)
        if draw(st.booleans()):  # else above zero too: no kernel's, but the same numbers all the same
            drawdown = -np.abs(drawdown)
        drawdown[draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=3)) if n else []] = draw(
            st.sampled_from([0.0, -0.0]))
    position = np.array(draw(st.lists(st.sampled_from([0.0, -0.0, 1.0, -2.0, 0.5]), min_size=n, max_size=n)),
                        dtype=np.float64)
    steps = draw(st.lists(st.integers(-5, 3_600_000), min_size=n, max_size=n))  # a clock may step back
    ms = np.cumsum(np.array(steps, dtype=np.int64))
    k = draw(st.integers(0, 23))
    sides = draw(st.sampled_from([[1.0, -1.0], [1.0], [-1.0], [1.0, -1.0, 0.0, 0.5]]))

    def column(items) -> np.ndarray:
        return np.array(draw(st.lists(items, min_size=k, max_size=k)), dtype=np.float64)

    trades = {"side": column(st.sampled_from(sides)), "pnl": column(st.one_of(_AWKWARD, _FINITE)),
              "return_pct": column(st.one_of(_AWKWARD, _FINITE)), "bars_held": column(st.integers(0, 50)),
              "fees": column(st.one_of(_AWKWARD, st.floats(0, 10))),
              "ambiguous": np.array(draw(st.lists(st.booleans(), min_size=k, max_size=k)), dtype=np.bool_)}
    capital = draw(st.sampled_from([1.0, 1e4, 3.7]))
    return equity, position, drawdown, ms, capital, draw(st.sampled_from([0.0, 1.0, 252.0, 8760.0])), trades


def bits(values: np.ndarray) -> list[int]:
    return np.ascontiguousarray(values, dtype=np.float64).view(np.int64).ravel().tolist()


@settings(max_examples=400, deadline=None)
@given(curves_and_trades(), st.integers(0, 5))
def test_the_pass_gives_the_numbers_of_the_pass_before_it_was_made_faster_bit_for_bit(case, spare) -> None:
    """Every number of every section equal, bit for bit, to the frozen earlier pass
    (summary_reference.py): the same additions in the same order, the same one of equal extremes
    (-0.0 or 0.0). Scratch larger than needed, holding garbage, must not leak into the numbers."""
    equity, position, drawdown, ms, capital, per_year, trades = case
    columns = [trades[name] for name in ("side", "pnl", "return_pct", "bars_held", "fees", "ambiguous")]
    expected = summary_reference.summarize(equity, position, drawdown, ms, capital, per_year, *columns)
    bar_room = np.full(len(equity) + spare, np.nan)
    trade_room = np.full(len(trades["pnl"]) + spare, -7, dtype=np.int64)
    got = summary.summarize(equity, position, drawdown, ms, capital, per_year, *columns, bar_room, trade_room)
    assert [bits(part) for part in got] == [bits(part) for part in expected]
    assert [bits(part) for part in summary.summary_arrays(equity, position, drawdown, ms, capital=capital,
                                                          bars_per_year=per_year, trades=trades)] == \
        [bits(part) for part in expected]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([0.0, -0.0, 0.5, -0.5, 0.25]), max_size=13))
def test_the_deepest_drawdown_is_the_one_numbas_min_picks(values) -> None:
    """Four lanes of minima, then the first zero when the minimum is zero: -0.0 or 0.0 as one
    running minimum would keep it (the sign shows in max_drawdown_pct)."""
    drawdown = np.array(values, dtype=np.float64)
    got, expected = summary._deepest(drawdown), summary_reference.deepest(drawdown)
    assert bits(np.array([got])) == bits(np.array([expected]))


# Runs shorter than, about as long as, and longer than a block of `summary._underwater`'s scan.
_RUN_LENGTHS = st.one_of(st.integers(1, 3), st.integers(1021, 1027), st.integers(1, 2500))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), _RUN_LENGTHS), max_size=12),
       st.sampled_from([-0.5, -0.0, 0.0, 0.5]))
def test_the_longest_stretch_under_water_is_the_one_the_plain_loop_finds(runs, level) -> None:
    """Runs under water and back, some longer than a block of the scan that skips quiet blocks,
    turning anywhere in a block or on its edge (at or above water: 0.0, -0.0 or above)."""
    drawdown = np.concatenate([np.full(length, -0.25 if under else level) for under, length in runs] or [[]])
    ms = np.cumsum(np.arange(len(drawdown), dtype=np.int64) % 7 * 60_000)
    room = np.full(len(drawdown), -1, dtype=np.int64)
    got = summary._underwater(drawdown, ms, room) if len(drawdown) >= 2 else (0, 0.0)
    expected = summary_reference._underwater(drawdown, ms) if len(drawdown) >= 2 else (0, 0.0)
    assert got[0] == expected[0] and bits(np.array([got[1]])) == bits(np.array([expected[1]]))


@pytest.mark.parametrize("n", [1025, 2049, 3000])
def test_a_turn_on_or_beside_a_block_edge_is_seen(n) -> None:
    """Every way one or two bars can turn at each bar near the scan's block edges (1024 bars)."""
    ms = np.arange(n, dtype=np.int64) * 3_600_000
    room = np.empty(n, dtype=np.int64)
    edges = {0, 1, 2, 1021, 1022, 1023, 1024, 1025, 2046, 2047, 2048, 2049, n - 2, n - 1}
    for at in sorted(at for at in edges if at < n):
        for base, other in ((-0.5, 0.0), (0.0, -0.5)):
            for shape in ("step", "blip", "two"):
                drawdown = np.full(n, base)
                if shape == "step":
                    drawdown[at:] = other
                else:
                    drawdown[at:at + (1 if shape == "blip" else 2)] = other
                expected = summary_reference._underwater(drawdown, ms)
                assert summary._underwater(drawdown, ms, room) == expected, (at, base, shape)


@pytest.mark.parametrize("where", [0, 1, 5, 8])
def test_a_nan_drawdown_or_trade_return_gives_nan_as_before(where) -> None:
    """NaN never comes out of the kernel, but if one came in it would still come out, as before."""
    n = 9
    equity = np.linspace(100.0, 90.0, n)
    drawdown = equity / equity[0] - 1.0
    drawdown[where] = np.nan
    trades = {"side": np.array([1.0, -1.0, 1.0]), "pnl": np.array([1.0, -2.0, 3.0]),
              "return_pct": np.array([0.5, np.nan, 1.0]), "bars_held": np.array([1.0, 2.0, 3.0]),
              "fees": np.zeros(3), "ambiguous": np.zeros(3, dtype=np.bool_)}
    args = (equity, np.ones(n), drawdown, np.arange(n, dtype=np.int64) * 60_000, 100.0, 8760.0)
    columns = [trades[name] for name in ("side", "pnl", "return_pct", "bars_held", "fees", "ambiguous")]
    expected = summary_reference.summarize(*args, *columns)
    got = summary.summary_arrays(*args[:4], capital=100.0, bars_per_year=8760.0, trades=trades)
    for new, old in zip(got, expected):
        np.testing.assert_array_equal(new, old)  # NaN where NaN
    assert math.isnan(got[0][summary.EQUITY_KEYS.index("max_drawdown_pct")])
    best = summary.TRADE_KEYS.index("best_trade_pct")
    assert math.isnan(got[1][0, best]) and math.isnan(got[1][2, best]) and not math.isnan(got[1][1, best])
