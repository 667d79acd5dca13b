"""`tradebot paper verify` reads the whole journal: a session that ran longer than its window
(live/window.py: the oldest bars forgotten in memory), killed and resumed, is verified over every
bar it saw, with every trade it made; a doctored trades.csv or equity.csv is named at its first
differing line."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.live.support import HOUR_MS, bar_rows, compiled, new_session
from tradebot.cli import main
from tradebot.live.journal import JOURNAL_NAME
from tradebot.live.session import backtest_of_session

SCRIPT = """fast = ema(close, 3)
slow = sma(close, 8)
enter long when fast crosses above slow
exit long when fast crosses below slow
enter short when close < lowest(low, 4)[1]
exit short when close > highest(high, 4)[1]
stop_loss 1%
"""
WARMUP = 10


def _walk(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(14)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({"timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(
        pl.Datetime("ms", "UTC")), "open": np.concatenate([[100.0], close[:-1]]), "high": close * 1.004,
        "low": close * 0.996, "close": close, "volume": np.ones(n)})


def _session(tmp_path: Path, bars: pl.DataFrame) -> tuple[Path, int]:
    """A session with a tiny window over `bars`, killed twice (once tearing its last record)
    and resumed; left as a kill leaves it. The first bar it still held at the end."""
    strategy = compiled(SCRIPT, tmp_path / "s.tbs")
    folder = tmp_path / "session"
    session = new_session(strategy, folder, horizon=2)
    session.start(bars.head(WARMUP))
    for i, row in enumerate(bar_rows(bars)[WARMUP:]):
        session.on_bar(row)
        if i in (150, 333):
            if i == 333:  # killed while writing the bar's record: cut on resume, the bar taken again
                journal = folder / JOURNAL_NAME
                journal.write_bytes(journal.read_bytes()[:-7])
            session = new_session(strategy, folder, horizon=2)
            session.resume()
            if i == 333:
                session.on_bar(row)
    return folder, session.frame.first


def test_verify_covers_every_bar_and_trade_of_a_session_longer_than_its_window(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bars = _walk(600)
    folder, first_held = _session(tmp_path, bars)
    strategy = compiled(SCRIPT, tmp_path / "s.tbs")
    backtest = backtest_of_session(strategy, bars, WARMUP, interval_ms=HOUR_MS)
    open_at_end = (pl.col("exit_reason") == "end_of_data") & (pl.col("exit_bar") == bars.height - 1)
    trades = backtest.trades.filter(~open_at_end)
    assert first_held > 300  # the session forgot most of its bars ...
    assert trades.filter(pl.col("exit_bar") < first_held).height > 10  # ... and the trades on them
    assert main(["paper", "verify", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"identical: {trades.height} trades, {bars.height} bars ({bars.height - WARMUP} live)" in out


@pytest.mark.parametrize(("name", "line"), [("trades.csv", 4), ("equity.csv", 250), ("equity.csv", 2)])
def test_verify_names_the_first_difference_of_a_doctored_file(tmp_path: Path, name: str, line: int,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder, _ = _session(tmp_path, _walk(400))
    assert main(["paper", "verify", str(folder)]) == 0
    capsys.readouterr()
    path = folder / name
    lines = path.read_text().splitlines()
    fields = lines[line - 1].split(",")
    fields[-2 if name == "equity.csv" else 7] += "1"  # one digit more: a position, a P&L
    lines[line - 1] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")
    assert main(["paper", "verify", str(folder)]) == 1
    assert f"first difference in {name} at line {line}:" in capsys.readouterr().out
    del lines[line - 1]  # a row missing: the next one is named
    path.write_text("\n".join(lines) + "\n")
    assert main(["paper", "verify", str(folder)]) == 1
    assert f"first difference in {name} at line {line}:" in capsys.readouterr().out


@pytest.mark.parametrize("n", [400, 342])  # flat at the end; a position open
def test_status_tells_the_position_and_trades_of_the_backtest(
        tmp_path: Path, n: int, capsys: pytest.CaptureFixture[str]) -> None:
    bars = _walk(n)
    folder, _ = _session(tmp_path, bars)
    backtest = backtest_of_session(compiled(SCRIPT, tmp_path / "s.tbs"), bars, WARMUP, interval_ms=HOUR_MS)
    # what is still open at the last bar is the backtest's trade closed there "end_of_data"
    at_end = (pl.col("exit_reason") == "end_of_data") & (pl.col("exit_bar") == n - 1)
    trades, still_open = backtest.trades.filter(~at_end), backtest.trades.filter(at_end)
    position = sum((1 if t["side"] == "long" else -1) * t["qty"] for t in still_open.iter_rows(named=True))
    assert main(["paper", "status", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"{n - WARMUP} live bars" in out and "lag" not in out  # a replay has no lag
    assert f"position   {position:g}\n" in out
    assert f"trades     {trades.height} closed, P&L {trades['pnl'].sum():.2f}" in out
    if not still_open.height:
        assert f"equity     {backtest.equity['equity'][n - 1]:.2f} (open P&L 0.00)" in out
