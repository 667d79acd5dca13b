"""The portfolio engine against vectorbt's cash-sharing portfolio (`Portfolio.from_signals` with
`group_by`, `cash_sharing=True`, `call_seq="auto"`), run only as a test oracle.

Conventions as in test_vectorbt_oracle.py (each of our bars is two vectorbt bars, the open alone
and then the bar; a signal on our close acts at vectorbt's next open-only bar). The case vectorbt
expresses: long only, every entry all-in (`size 100% of equity`; vectorbt `size=inf`), a fee on
each fill, three symbols that compete for the one pool of cash. Each bar vectorbt sells before it
buys (`call_seq="auto"`) and buys in column order; the columns are in our rank order (a constant
rank per symbol), so both engines give the cash to the same symbol.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.runtime.test_vectorbt_oracle import at_next_open, split
from tradebot.data.panel import load_panel, universe_files
from tradebot.runtime import ExecutionConfig, Signals
from tradebot.runtime.execution import Sizing
from tradebot.runtime.portfolio import PortfolioBars, run_portfolio

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vectorbt as vbt
except ImportError:
    pytest.skip("vectorbt is not installed: `pip install vectorbt` runs these cross-checks",
                allow_module_level=True)

DATA = Path(__file__).resolve().parents[2] / "data/generated"
BARS = 800


def panel_bars():
    files = {s: p for s, p in universe_files("*_generated_1h.csv", DATA).items()
             if s in ("GENA", "GENB", "GEND")}  # the three with a bar at every time
    panel = load_panel(files)
    prices = {name: matrix[:BARS] for name, matrix in panel.prices.items()}
    return PortfolioBars(panel.timestamps[:BARS], panel.symbols, prices)


def random_case(seed):
    """Random long entries and exits on the three symbols, everything closed before the end
    (vectorbt would leave it open), ranked in column order."""
    bars = panel_bars()
    n, m = bars.prices["close"].shape
    rng = np.random.default_rng(seed)
    enter = rng.random((n, m)) < 0.05
    leave = (rng.random((n, m)) < 0.05) & ~enter
    enter[-3:] = False
    leave[-3:] = True
    no = np.zeros(n, dtype=bool)
    signals = [Signals(enter[:, j], leave[:, j], no, no) for j in range(m)]
    rank = np.tile(np.arange(m, 0, -1, dtype=float), (n, 1))  # column 0 first
    return bars, enter, leave, signals, rank


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shared_cash_all_in_entries_match_vectorbt(seed):
    bars, enter, leave, signals, rank = random_case(seed)
    m = len(bars.symbols)
    config = ExecutionConfig(10_000.0, 0.001, 0.0, sizing=Sizing("equity", 1.0))
    ours = run_portfolio(bars, signals, rank, config, max_positions=m)

    theirs = _vectorbt(bars, enter, leave, size=np.inf, capital=10_000.0)
    records = theirs.trades.records_readable
    expected = sorted(zip(records["Column"], records["Entry Timestamp"] // 2,
                          records["Exit Timestamp"] // 2))
    got = sorted(zip(ours.trades["symbol"], ours.trades["entry_bar"], ours.trades["exit_bar"]))
    assert got == expected
    assert len(got) > 10
    # All-in: one symbol holds the cash at a time, the others' entries find none.
    assert ours.metrics["all"]["max_positions_held"] == 1
    assert len(got) < int(enter.sum())
    by_key = {(s, e): q for s, e, q in zip(records["Column"], records["Entry Timestamp"] // 2,
                                           records["Size"])}
    for s, e, q in zip(ours.trades["symbol"], ours.trades["entry_bar"], ours.trades["qty"]):
        assert q == pytest.approx(by_key[(s, e)], rel=1e-9)
    assert ours.equity["equity"][-1] == pytest.approx(float(theirs.value().iloc[-1]), rel=1e-9)


@pytest.mark.parametrize("seed", [4, 5])
def test_exposure_concurrency_and_turnover_match_vectorbt(seed):
    """The portfolio metrics vectorbt can express, on the cash-sharing case above with half of the
    equity per entry (two symbols can be held): each symbol's bars with a position
    (`position_mask` per column, on the full bar of each split pair) gives its exposure, the
    account's (any symbol held), the mean and most symbols held; the orders' notional over the
    mean value gives the turnover."""
    bars, enter, leave, signals, rank = random_case(seed)
    m = len(bars.symbols)
    # `units`: a fixed size per entry, which both engines take without any sizing convention.
    config = ExecutionConfig(1e6, 0.001, 0.0, sizing=Sizing("units", 10.0))
    ours = run_portfolio(bars, signals, rank, config, max_positions=m)
    theirs = _vectorbt(bars, enter, leave, size=10.0, capital=1e6)
    held = theirs.position_mask(group_by=False).to_numpy()[1::2]  # after each of our bars
    for j, symbol in enumerate(bars.symbols):
        assert ours.per_symbol[symbol]["exposure_pct"] == pytest.approx(100 * held[:, j].mean())
    account = ours.metrics["all"]
    assert account["exposure_pct"] == pytest.approx(100 * held.any(axis=1).mean())
    assert account["avg_positions"] == pytest.approx(held.sum(axis=1).mean())
    assert account["max_positions_held"] == held.sum(axis=1).max() >= 2
    orders = theirs.orders.records_readable
    value = theirs.value().to_numpy()[1::2]
    notional = float((orders["Size"] * orders["Price"]).sum())
    assert account["turnover"] == pytest.approx(notional / value.mean(), rel=1e-9)


def _vectorbt(bars, enter, leave, *, size, capital):
    m = len(bars.symbols)
    o = bars.prices["open"]
    frame = {name: pd.DataFrame(np.column_stack([split(bars.prices[name][:, j], o[:, j])
                                                 for j in range(m)]), columns=bars.symbols)
             for name in ("open", "high", "low", "close")}
    flags = {name: pd.DataFrame(np.column_stack([at_next_open(a[:, j]) for j in range(m)]),
                                columns=bars.symbols) for name, a in (("entries", enter), ("exits", leave))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return vbt.Portfolio.from_signals(
            frame["close"], entries=flags["entries"], exits=flags["exits"], price=frame["open"],
            open=frame["open"], high=frame["high"], low=frame["low"], size=size,
            fees=0.001, init_cash=capital, direction="longonly", group_by=True,
            cash_sharing=True, call_seq="auto", freq="1h")
