"""Shared by the paper-trading tests: random scripts, bars as rows, a session in a folder, and
the comparison with a backtest (a running session has not closed at end of data)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
from hypothesis import reject, strategies as st

from tests.lang.strategies import expressions
from tradebot.errors import UserError
from tradebot.live.feed import rows
from tradebot.live.session import Identity, PaperSession
from tradebot.pipeline import Strategy, compile_source
from tradebot.runtime.engine import BacktestResult
from tradebot.runtime.report import ISO_FORMAT

HOUR_MS = 3_600_000
_NUMBER, CONDITION = expressions()
RISK = ("", "stop_loss 1%", "take_profit 2%\nstop_loss 3 * atr(3)", "exit after 3 bars",
        "trailing_stop 1%", "enter long at limit close - 0.5 expire 2 bars")


# Rules and risk values reading position state (run inside the engine, their state in the
# kernel's snapshot): a recursion reading them too, and a moving stop.
POSITION = ("bars_since_entry >= 3", "open_profit_pct < -0.2%", "close < highest_since_entry(high) - 2 * atr(3)",
            "open_entries >= 2 and open_profit > 0", 'last_exit_reason == "stop" and bars_since_exit < 3',
            "held > 2", "position_side == 0 and close > open", "open_profit crosses below 0")
POSITION_RISK = ("", "stop_loss long at entry_price - 2 * atr(3)", "take_profit short at lowest_since_entry(low) - 1")


@st.composite
def scripts(draw) -> str:
    """A random well-typed script: four random conditions and some risk rules, and sometimes
    rules reading position state."""
    lines = [f"{rule} when {draw(CONDITION)}"
             for rule in ("enter long", "exit long", "enter short", "exit short")]
    if draw(st.booleans()):
        lines.append("held = if position_side != 0 then held[1] + 1 else 0 starting 0")
        lines += [f"{rule} when {draw(st.sampled_from(POSITION))}"
                  for rule in draw(st.lists(st.sampled_from(("enter long", "exit long", "enter short", "exit short")),
                                            min_size=1, max_size=3))]
        lines.append(draw(st.sampled_from(POSITION_RISK)))
    return "\n".join([draw(st.sampled_from(RISK)), "pyramiding " + str(draw(st.integers(1, 2))), *lines]) + "\n"


def compiled(text: str, path: Path) -> Strategy:
    """The script compiled; a generated one the checker refuses (`@ 3h` inside `@ 2h`) is skipped."""
    path.write_text(text, encoding="utf-8")
    try:
        return compile_source(text, str(path), path=path)
    except UserError:
        reject()


def new_session(strategy: Strategy, folder: Path, horizon: int | None = None) -> PaperSession:
    """A session on hourly bars; `horizon`: a window far shorter than the script's own
    (live/window.py), so that bars are forgotten (and checks refused) on short data."""
    identity = Identity.of(strategy, symbol="TEST", category="replay", interval="1h", interval_ms=HOUR_MS)
    session = PaperSession(strategy, folder, identity)
    if horizon is not None:
        session.retention = replace(session.retention, horizon=horizon)
    return session


def wave(n: int, *, amplitude: float = 1.0, period: float = 1.0) -> pl.DataFrame:
    """Hourly bars whose close follows a sine (a script on close vs close[1] trades often)."""
    import datetime as dt

    import numpy as np

    close = 100 + amplitude * np.sin(np.arange(n) / period)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({"timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(
        pl.Datetime("ms", "UTC")), "open": close, "high": close + 1, "low": close - 1, "close": close,
        "volume": np.ones(n)})


def bar_rows(bars: pl.DataFrame) -> list[tuple[int, float, float, float, float, float]]:
    return list(rows(bars))


def assert_same_as_backtest(session_result: BacktestResult, backtest: BacktestResult, last_bar: int) -> None:
    """The session's trades and equity equal the backtest's, bit for bit, except what the
    backtest closes at its last bar because the data ends there."""
    open_at_end = (pl.col("exit_reason") == "end_of_data") & (pl.col("exit_bar") == last_bar)
    expected = backtest.trades.filter(~open_at_end)
    assert session_result.trades.to_dicts() == expected.to_dicts()
    n = session_result.equity.height
    assert n == backtest.equity.height
    compared = n - 1 if expected.height < backtest.trades.height else n
    assert session_result.equity.head(compared).to_dicts() == backtest.equity.head(compared).to_dicts()


def assert_files_match(folder: Path, backtest: BacktestResult, last_bar: int) -> None:
    """The session folder's trades.csv and equity.csv are the backtest's, as `tradebot run --out`
    writes them, except what the backtest closes at its last bar because the data ends there
    (that trade, and that bar's equity row)."""
    open_at_end = (pl.col("exit_reason") == "end_of_data") & (pl.col("exit_bar") == last_bar)
    expected = backtest.trades.filter(~open_at_end)
    assert (folder / "trades.csv").read_text() == expected.write_csv(datetime_format=ISO_FORMAT)
    lines = (folder / "equity.csv").read_text().splitlines()
    theirs = backtest.equity.write_csv(datetime_format=ISO_FORMAT).splitlines()
    assert len(lines) == len(theirs)
    compared = len(lines) - 1 if expected.height < backtest.trades.height else len(lines)
    assert lines[:compared] == theirs[:compared]
