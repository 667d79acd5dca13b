"""Reading a session folder without running it: `tradebot paper status`, `paper verify` and the
orders `paper cancel` may name.

`verify` is the parity check: it runs the backtest (`kernel.simulate` over the whole frame, the
path `tradebot run` takes) on exactly the bars the journal holds, with every signal off before
the session's first live bar, and compares its trades and equity with what the session recorded.
A backtest closes what is still open at its last bar ("end_of_data"); a session still running
has not, so those trades and that last bar's equity are left out of the comparison. A session
whose orders were cancelled is compared with the kernel's `step` over the same bars and signals,
withdrawing each order after the bar it was cancelled on (a backtest has no cancel).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError, UsageError
from ..pipeline import Strategy, load_strategy
from ..runtime import kernel
from ..runtime.engine import trades_frame
from .journal import JOURNAL_NAME, JournalError, read_records
from .session import FORMAT, backtest_of_session, replay_with_cancels

END_OF_DATA = "end_of_data"


@dataclass(frozen=True)
class Recorded:
    """What a session's journal holds."""

    folder: Path
    header: dict[str, Any]
    bars: pl.DataFrame
    live_from: int
    steps: list[dict[str, Any]]
    cancels: list[tuple[int, str]]  # (the bar after which, order id) of each order withdrawn

    @property
    def trades(self) -> pl.DataFrame:
        closed = [row for step in self.steps for row in step["closed"]]
        records = np.array(closed, dtype=float).reshape(len(closed), kernel.TRADE_FIELDS)
        return trades_frame(records, self.bars["timestamp"])

    @property
    def equity(self) -> list[float]:
        capital = float(self.header["settings"].get("capital") or 0.0)
        return [capital] * self.live_from + [step["equity"] for step in self.steps]


def read_session(folder: Path) -> Recorded:
    path = Path(folder) / JOURNAL_NAME
    if not path.exists():
        raise UsageError(f"{folder}: no paper session here (no {JOURNAL_NAME})")
    try:
        records = list(read_records(path))
    except JournalError as exc:
        raise DataError(path, str(exc).split(": ", 1)[-1]) from None
    if not records or records[0].get("format") != FORMAT:
        raise DataError(path, "not a paper-trading journal")
    rows = [row for r in records if r["kind"] == "bars" for row in r["rows"]]
    rows += [r["row"] for r in records if r["kind"] == "step"]
    bars = pl.DataFrame(rows, schema=["timestamp", "open", "high", "low", "close", "volume"],
                        orient="row").with_columns(pl.col("timestamp").cast(pl.Int64).cast(
                            pl.Datetime("ms", "UTC")), *(pl.col(c).cast(pl.Float64) for c in
                                                        ("open", "high", "low", "close", "volume")))
    warm = [r["bar"] for r in records if r["kind"] == "warm"]
    steps = [r for r in records if r["kind"] == "step"]
    cancels = [(r["after"], r["order"]) for r in records if r["kind"] == "cancel" and r["done"]]
    return Recorded(Path(folder), records[0], bars, warm[0] if warm else len(rows), steps, cancels)


def status_lines(recorded: Recorded, *, now_ms: int) -> list[str]:
    header, steps = recorded.header, recorded.steps
    trades = recorded.trades
    realized = float(trades["pnl"].sum()) if trades.height else 0.0
    capital = float(header["settings"].get("capital") or 0.0)
    lines = [f"{recorded.folder}: {Path(header['script']).name} on {header['symbol']} "
             f"{header['interval']} ({header['category']})"]
    if not steps:
        return lines + ["  warmed up, no live bar yet"]
    last = steps[-1]
    last_start = int(recorded.bars["timestamp"].dt.epoch("ms")[last["bar"]])
    lag = (now_ms - last_start - header["interval_ms"]) / 1000
    late = "" if header["category"] == "replay" else f"; lag {lag:.0f} s after its close"
    lines += [f"  last bar   {recorded.bars['timestamp'][last['bar']]:%Y-%m-%d %H:%M} UTC "
              f"({len(steps)} live bars{late})",
              f"  position   {last['position']:g}",
              f"  equity     {last['equity']:.2f} (open P&L {last['equity'] - capital - realized:.2f})",
              f"  trades     {trades.height} closed, P&L {realized:.2f}"]
    lines += [f"  order      {o['id']}: {o['kind']} {o['side']} entry"
              + (f" at {o['price']:g}" if o["price"] is not None else "")
              + ("" if o["last"] is None else f", until bar {o['last']}")
              for o in _standing(recorded)]
    return lines


def standing_orders(recorded: Recorded) -> list[str]:
    """The ids of the orders standing after the session's last journaled bar."""
    return [order["id"] for order in _standing(recorded)]


def _standing(recorded: Recorded) -> list[dict[str, Any]]:
    if not recorded.steps:
        return []
    last = recorded.steps[-1]
    gone = {order for bar, order in recorded.cancels if bar >= last["bar"]}
    return [order for order in last.get("orders", []) if order["id"] not in gone]


def verify(recorded: Recorded) -> tuple[bool, str]:
    """(identical, message): the session against a backtest of the bars it saw."""
    strategy = _strategy(recorded)
    interval_ms = recorded.header["interval_ms"]
    backtest = replay_with_cancels(strategy, recorded.bars, recorded.live_from, recorded.cancels,
                                   interval_ms=interval_ms) if recorded.cancels else \
        backtest_of_session(strategy, recorded.bars, recorded.live_from, interval_ms=interval_ms)
    seen = recorded.live_from + len(recorded.steps)
    expected = backtest.trades.filter(~((pl.col("exit_reason") == END_OF_DATA)
                                        & (pl.col("exit_bar") == recorded.bars.height - 1)))
    got = recorded.trades
    for i in range(max(expected.height, got.height)):
        mine = got.row(i, named=True) if i < got.height else None
        theirs = expected.row(i, named=True) if i < expected.height else None
        if mine != theirs:
            return False, _trade_difference(i, mine, theirs)
    session_equity = recorded.equity
    backtest_equity = backtest.equity["equity"].to_list()
    compared = seen - 1 if backtest.trades.height > expected.height else seen
    for bar in range(min(compared, len(backtest_equity))):
        if not _same(session_equity[bar], backtest_equity[bar]):
            time = recorded.bars["timestamp"][bar]
            return False, (f"first difference at bar {bar} ({time:%Y-%m-%d %H:%M}): equity "
                           f"{session_equity[bar]!r} in the session, {backtest_equity[bar]!r} in the backtest")
    cancelled = f", {len(recorded.cancels)} orders cancelled" if recorded.cancels else ""
    return True, f"identical: {got.height} trades, {seen} bars ({len(recorded.steps)} live{cancelled})"


def _strategy(recorded: Recorded) -> Strategy:
    header = recorded.header
    strategy = load_strategy(Path(header["script"]))
    digest = hashlib.sha256(strategy.checked.source.encode("utf-8")).hexdigest()
    if digest != header["script_sha256"]:
        raise UsageError(f"{header['script']} changed since the session started; verify needs the "
                         "script the session ran")
    return strategy


def _trade_difference(index: int, mine: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    if mine is None:
        return f"first difference at trade {index + 1}: the backtest has it ({_describe(theirs)}), the session does not"
    if theirs is None:
        return f"first difference at trade {index + 1}: the session has it ({_describe(mine)}), the backtest does not"
    fields = [f"{k} {mine[k]!r} vs {theirs[k]!r}" for k in mine if not _same(mine[k], theirs[k])]
    return f"first difference at trade {index + 1} ({_describe(mine)}): {'; '.join(fields)} (session vs backtest)"


def _describe(trade: dict[str, Any] | None) -> str:
    assert trade is not None
    return f"{trade['side']} {trade['entry_time']:%Y-%m-%d %H:%M} -> {trade['exit_time']:%Y-%m-%d %H:%M}"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b
