"""Reading a session folder without running it: `tradebot paper status`, `paper verify` and the
orders `paper cancel` may name.

`verify` is the parity check: it runs the backtest (`kernel.simulate` over the whole frame, the
path `tradebot run` takes) on exactly the bars the journal holds, with every signal off before
the session's first live bar, and compares its trades and equity with what the session recorded.
A backtest closes what is still open at its last bar ("end_of_data"); a session still running
has not, so those trades and that last bar's equity are left out of the comparison. A session
whose orders were cancelled is compared with the kernel's `step` over the same bars and signals,
withdrawing each order after the bar it was cancelled on (a backtest has no cancel). Then the
session's trades.csv and equity.csv are compared, row by row, with what its journal recorded.
The journal is read whole: every bar since the session began, across restarts and refills, not
the window of bars a running session holds.
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
from ..runtime.engine import equity_curve, trades_frame
from ..runtime.report import ISO_FORMAT
from .journal import JOURNAL_NAME, JournalError, journal_in, read_records
from .outputs import EQUITY, TRADES
from .session import FORMAT, backtest_of_session, replay_with_cancels

END_OF_DATA = "end_of_data"


@dataclass(frozen=True)
class Recorded:
    """What a session's journal holds."""

    folder: Path
    header: dict[str, Any]
    bars: pl.DataFrame  # every bar since the session began: warm-up, live, refilled, across restarts
    live_from: int
    steps: list[dict[str, Any]]  # the step records (without the bar, the intent and the snapshot)
    cancels: list[tuple[int, str]]  # (the bar after which, order id) of each order withdrawn
    journal_bytes: int = 0  # the journal's size when read (a running session appends to it)

    @property
    def trades(self) -> pl.DataFrame:
        closed = [row for step in self.steps for row in step["closed"]]
        records = np.array(closed, dtype=float).reshape(len(closed), kernel.TRADE_FIELDS)
        return trades_frame(records, self.bars["timestamp"])

    @property
    def equity(self) -> list[float]:
        capital = float(self.header["settings"].get("capital") or 0.0)
        return [capital] * self.live_from + [step["equity"] for step in self.steps]

    def equity_frame(self) -> pl.DataFrame:
        """equity.csv as the session writes it: the warm-up bars hold the capital, flat."""
        position = [0.0] * self.live_from + [step["position"] for step in self.steps]
        drawdown = [0.0] * self.live_from + [step["drawdown"] for step in self.steps]
        return equity_curve(self.bars["timestamp"], np.array(self.equity, dtype=float),
                            np.array(position, dtype=float), drawdowns=np.array(drawdown, dtype=float))


def read_session(folder: Path) -> Recorded:
    """The whole journal, record by record: every bar the session saw since it began (not only
    the window a running session holds), every step and cancel."""
    path = journal_in(folder)
    if not path.exists():
        raise UsageError(f"{folder}: no paper session here (no {JOURNAL_NAME})")
    size = path.stat().st_size
    header: dict[str, Any] = {}
    rows: list[list[float]] = []
    steps: list[dict[str, Any]] = []
    warm: list[int] = []
    cancels: list[tuple[int, str]] = []
    try:
        for record in read_records(path):
            kind = record.get("kind")
            if not header:
                if record.get("format") != FORMAT:
                    break
                header = record
            elif kind == "bars":
                rows += record["rows"]
            elif kind == "warm":
                warm.append(record["bar"])
            elif kind == "step":  # kept lean: a weeks-long session has hundreds of thousands
                rows.append(record.pop("row"))
                record.pop("intent", None)
                record.pop("snapshot", None)
                if steps:
                    steps[-1].pop("orders", None)  # only the last bar's standing orders matter
                steps.append(record)
            elif kind == "cancel" and record["done"]:
                cancels.append((record["after"], record["order"]))
    except JournalError as exc:
        raise DataError(path, str(exc).split(": ", 1)[-1]) from None
    if not header:
        raise DataError(path, "not a paper-trading journal")
    bars = pl.DataFrame(rows, schema=["timestamp", "open", "high", "low", "close", "volume"],
                        orient="row").with_columns(pl.col("timestamp").cast(pl.Int64).cast(
                            pl.Datetime("ms", "UTC")), *(pl.col(c).cast(pl.Float64) for c in
                                                        ("open", "high", "low", "close", "volume")))
    return Recorded(Path(folder), header, bars, warm[0] if warm else len(rows), steps, cancels, size)


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
    # flat: nothing is open (the difference below would show a rounding residue as "-0.00")
    open_pnl = last["equity"] - capital - realized if last["position"] else 0.0
    lines += [f"  last bar   {recorded.bars['timestamp'][last['bar']]:%Y-%m-%d %H:%M} UTC "
              f"({len(steps)} live bars{late})",
              f"  position   {last['position']:g}",
              f"  equity     {last['equity']:.2f} (open P&L {open_pnl:.2f})",
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
    files = files_difference(recorded)
    if files is not None:
        return False, files
    cancelled = f", {len(recorded.cancels)} orders cancelled" if recorded.cancels else ""
    return True, f"identical: {got.height} trades, {seen} bars ({len(recorded.steps)} live{cancelled})"


def files_difference(recorded: Recorded) -> str | None:
    """The first row of trades.csv or equity.csv that is not what the journal says, or None.
    The files follow the journal: the rows of its last bar may not be written yet (a running
    session writes them next, a killed one on its next start), and while the journal grows (the
    session is running) the files may hold rows beyond what was read of it."""
    expected = {TRADES: recorded.trades, EQUITY: recorded.equity_frame()}
    texts = {}
    for name in expected:
        path = recorded.folder / name
        texts[name] = path.read_text(encoding="utf-8").splitlines() if path.exists() else None
    running = journal_in(recorded.folder).stat().st_size != recorded.journal_bytes
    for name, frame in expected.items():
        got = texts[name]
        if got is None:
            return f"{name} is missing from {recorded.folder}"
        want = frame.write_csv(datetime_format=ISO_FORMAT).splitlines()
        for line, (mine, theirs) in enumerate(zip(got, want), start=1):
            if mine != theirs:
                return f"first difference in {name} at line {line}: {mine!r} in the file, {theirs!r} from the journal"
        short = len(got) < len(want) - _last_bar_rows(recorded, name)
        if short or (len(got) > len(want) and not running):
            line = min(len(got), len(want)) + 1
            where = "the journal has" if short else "the file has"
            return f"first difference in {name} at line {line}: only {where} it ({(want if short else got)[line - 1]!r})"
    return None


def _last_bar_rows(recorded: Recorded, name: str) -> int:
    """The rows the journal's last bar adds to `name`."""
    if not recorded.steps:
        return 0
    return len(recorded.steps[-1]["closed"]) if name == TRADES else 1


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
