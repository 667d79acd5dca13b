"""Fixtures of the report tests: a small fixed backtest (hand-made bars and signals) and a real
browser (one per test module). Without chromium or Playwright the browser tests skip on a
developer's machine; under CI=true tests/oracle_guard.py turns that skip into a failure (`browser`
is one of its oracle fixtures), so the gate can never pass by not running them."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import polars as pl
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from browser import real_browser  # noqa: E402

from tradebot.runtime import ExecutionConfig, Level, SideRules, Signals, run_backtest  # noqa: E402

BARS = 48


def small_bars(n: int = BARS) -> pl.DataFrame:
    """Hourly bars of a slow wave, crossing a month end (calendar returns get two months)."""
    start = int(datetime(2024, 1, 31, 12, tzinfo=timezone.utc).timestamp() * 1000)
    close = 100.0 + 5.0 * np.sin(np.arange(n) / 5.0)
    open_ = np.concatenate([[close[0]], close[:-1]])
    return pl.DataFrame({
        "timestamp": pl.Series(start + 3_600_000 * np.arange(n), dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")),
        "open": open_, "high": np.maximum(open_, close) + 0.4, "low": np.minimum(open_, close) - 0.4,
        "close": close, "volume": np.full(n, 10.0)})


def small_signals(n: int = BARS) -> Signals:
    flags = {name: np.zeros(n, dtype=bool) for name in ("enter_long", "exit_long", "enter_short", "exit_short")}
    flags["enter_long"][[3, 30]] = True
    flags["exit_long"][[12]] = True
    flags["enter_short"][[16]] = True
    flags["exit_short"][[26]] = True
    return Signals(**flags)


SMALL_CONFIG = ExecutionConfig(1000.0, 0.001, long=SideRules(stop_loss=Level("percent", 0.02),
                                                             take_profit=Level("distance", 3.0)),
                               short=SideRules(stop_loss=Level("price", 104.5)))


@pytest.fixture(scope="module")
def small_run():
    bars = small_bars()
    return bars, run_backtest(bars, small_signals(), SMALL_CONFIG)


@pytest.fixture(scope="module")
def browser():
    yield from real_browser()
