"""data/panel.py: N symbols on the union of their timestamps, nothing filled forward."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tradebot.data.panel import load_panel, universe_files
from tradebot.errors import DataError
from tradebot.pipeline import compile_source, strategy_plan
from tradebot.portfolio_pipeline import backtest_portfolio

HEADER = "timestamp,open,high,low,close,volume\n"


def write(path: Path, hours: list[int], closes: list[float]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(f"2024-01-01T{h:02d}:00:00Z,{c},{c + 1},{c - 1},{c},1\n"
                                     for h, c in zip(hours, closes)))
    return path


def test_the_timeline_is_the_union_and_a_missing_bar_stays_empty(tmp_path):
    a = write(tmp_path / "A.csv", [0, 1, 2, 3], [10, 11, 12, 13])
    b = write(tmp_path / "B.csv", [1, 3, 4], [20, 21, 22])
    panel = load_panel({"B": b, "A": a})
    assert panel.symbols == ("A", "B")  # name order: the tie-breaking order
    assert [t.hour for t in panel.timestamps] == [0, 1, 2, 3, 4]
    close = panel.prices["close"]
    assert close[:, 0].tolist()[:4] == [10, 11, 12, 13] and np.isnan(close[4, 0])
    assert np.isnan(close[[0, 2], 1]).all() and close[[1, 3, 4], 1].tolist() == [20, 21, 22]
    assert panel.spread("B", np.array([True, False, True]), False).tolist() == [
        False, True, False, False, True]


def test_indicators_see_only_the_symbols_own_bars(tmp_path):
    """B's 2-bar SMA at hour 3 averages its bars at hours 1 and 3 (20 and 21), not a copy of
    hour 1's close at hour 2: no forward fill."""
    a = write(tmp_path / "A.csv", [0, 1, 2, 3], [10, 11, 12, 13])
    b = write(tmp_path / "B.csv", [1, 3, 4], [20, 21, 22])
    panel = load_panel({"A": a, "B": b})
    strategy = compile_source("rank by sma(close, 2)\nuniverse \"x\"\nenter long when close > 0\n",
                              "s.tbs")
    result = backtest_portfolio(strategy, panel)
    assert result.per_symbol["B"]["bars"] == 3
    rank = strategy_plan(strategy.checked, extra={"r": strategy.checked.settings["rank"]}).evaluate(
        panel.bars["B"])["r"].to_list()
    assert rank == [None, 20.5, 21.5]


def test_a_glob_names_symbols_by_its_last_wildcard(tmp_path):
    write(tmp_path / "linear/BTCUSDT/1h.csv", [0, 1], [1, 2])
    write(tmp_path / "linear/ETHUSDT/1h.csv", [0, 1], [1, 2])
    assert list(universe_files("linear/*/1h.csv", tmp_path)) == ["BTCUSDT", "ETHUSDT"]
    assert universe_files("nothing/*.csv", tmp_path) == {}


def test_an_empty_universe_is_refused():
    with pytest.raises(DataError, match="empty"):
        load_panel({})
