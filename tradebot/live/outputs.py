"""A session's trades.csv, equity.csv and result.json: the files `tradebot run --out` writes, kept
current without rewriting the session's history.

* equity.csv gains one row a bar and trades.csv one row a closed trade: appended, flushed and
  fsync'ed right after the bar's journal record (data.files' append_bytes). The journal is the
  truth, these files follow it: on start and on resume both are rewritten whole from the journal
  (data.files' atomic_write: a temporary file, fsync'ed, renamed over the old one), so a crash between the record and its rows, or in
  the middle of a row, leaves files that the next start puts right: no row missing, none twice.
* result.json (settings, metrics, the trade list) is small enough to rewrite, by rename, when a
  trade closes and every OUTPUT_EVERY bars. Its trade list is kept serialized trade by trade, so
  a rewrite serializes the metrics only; the metrics are the backtest's own compiled pass over
  the equity curve (`compute_metrics`), so they are `tradebot run`'s numbers bit for bit.

A row is formatted as polars formats it in `write_outputs` (the same call on a one-row frame);
a float whose shortest `repr` is a plain decimal is written as that `repr`, which is what polars
writes for it (tests/live/test_outputs.py holds the two equal), and anything else goes through
polars.
"""
from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import polars as pl

from ..data.files import append_bytes, atomic_write
from ..runtime.engine import TRADE_SCHEMA, BacktestResult, trades_frame
from ..runtime.report import ISO_FORMAT, json_safe, result_to_dict, trade_records

TRADES, EQUITY, RESULT = "trades.csv", "equity.csv", "result.json"
REJOIN_CHUNKS = 64  # trades appended one by one are joined into one block this often
EQUITY_SCHEMA = {"timestamp": pl.Datetime("ms", "UTC"), "equity": pl.Float64, "position": pl.Float64,
                 "drawdown": pl.Float64}
_TRADES_KEY = '"trades": '  # where result.json's trade list goes (json.dumps with indent=2)
_YEAR_10000_MS = 253_402_300_800_000  # strftime pads a year below 1000 its own way on some systems
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_PLACEHOLDER = "\u0000trades\u0000"  # no setting holds a NUL: the one place the list is spliced in


def read_result(folder: Path) -> dict | None:
    """A session folder's result.json, or None before it is first written (or unreadable)."""
    try:
        return json.loads((Path(folder) / RESULT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_equity(folder: Path) -> list[tuple[str, float]]:
    """equity.csv's (timestamp as written, equity) rows; [] before there is one (or unreadable)."""
    try:
        with open(Path(folder) / EQUITY, newline="", encoding="utf-8") as handle:
            return [(row[0], float(row[1])) for row in list(csv.reader(handle))[1:] if len(row) >= 2]
    except (OSError, ValueError):
        return []


def read_trades(folder: Path) -> list[dict[str, str]]:
    """trades.csv's rows by column name, as written; [] before there is one."""
    try:
        with open(Path(folder) / TRADES, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except OSError:
        return []


class SessionOutputs:
    """The three files of one session folder; `trades` holds every closed trade so far."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.trades = pl.DataFrame(schema=TRADE_SCHEMA)
        self._trade_texts: list[str] = []  # each trade of result.json, serialized once

    def rewrite(self, trades: pl.DataFrame, equity: pl.DataFrame) -> None:
        """Both CSV files whole (what `write_outputs` writes), each replacing the old one at once
(written beside it, fsync'ed, renamed over it)."""
        for name in (TRADES, EQUITY, RESULT):  # what a kill in the middle of a rewrite left behind
            for stale in self.folder.glob(f".{name}.*.tmp"):
                stale.unlink(missing_ok=True)
        self.trades = trades
        self._trade_texts = [_trade_text(record) for record in _records(trades)]
        for name, frame in ((TRADES, trades), (EQUITY, equity)):
            atomic_write(self.folder / name, frame.write_csv(datetime_format=ISO_FORMAT).encode("utf-8"))

    def append(self, equity_row: tuple[int, float, float, float], trades: pl.DataFrame | None) -> None:
        """One bar's equity row (start ms, equity, position, drawdown) and the trades it closed,
        durable when this returns."""
        append_bytes(self.folder / EQUITY, equity_line(equity_row))
        if trades is not None and trades.height:
            append_bytes(self.folder / TRADES, trades.write_csv(datetime_format=ISO_FORMAT, include_header=False).encode("utf-8"))
            self.trades = pl.concat([self.trades, trades], rechunk=False)
            if self.trades.n_chunks() > REJOIN_CHUNKS:  # one chunk a trade slows every read of them
                self.trades = self.trades.rechunk()
            self._trade_texts += [_trade_text(record) for record in _records(trades)]

    def write_result(self, result: BacktestResult, *, settings: Mapping[str, Any],
                     params: Mapping[str, Any]) -> None:
        """result.json for `result` (its trades are `self.trades`), as `write_outputs` writes it."""
        bare = BacktestResult(self.trades.head(0), result.equity.head(0), result.metrics, result.config,
                              result.bars_per_year, result.ruin)
        document = result_to_dict(bare, settings=settings, params=params)
        document["trades"] = _PLACEHOLDER
        text = json.dumps(document, indent=2, allow_nan=False)  # as write_outputs: fails loudly on NaN
        text = text.replace(_TRADES_KEY + json.dumps(_PLACEHOLDER), _TRADES_KEY + _list_text(self._trade_texts), 1)
        # Whole for a reader (renamed over the old one); not fsync'ed: the next start rewrites it.
        atomic_write(self.folder / RESULT, (text + "\n").encode("utf-8"), fsync=False)


def trades_of(records: np.ndarray, origin_ms: int, interval_ms: int) -> pl.DataFrame:
    """`trades_frame` of kernel trade records on a session's bars (bar i starts at origin + i
    intervals), building the times of the bars the trades span only, not of every bar."""
    if not len(records):
        return pl.DataFrame(schema=TRADE_SCHEMA)
    from ..runtime import kernel

    bars = records[:, [kernel.T_ENTRY_BAR, kernel.T_EXIT_BAR]].astype(np.int64)
    first, last = int(bars.min()), int(bars.max())
    starts = origin_ms + (first + np.arange(last - first + 1, dtype=np.int64)) * interval_ms
    shifted = records.copy()
    shifted[:, [kernel.T_ENTRY_BAR, kernel.T_EXIT_BAR]] -= first
    frame = trades_frame(shifted, pl.Series(starts).cast(pl.Datetime("ms", "UTC")))
    return frame.with_columns(pl.col("entry_bar") + first, pl.col("exit_bar") + first)


def equity_line(row: tuple[int, float, float, float]) -> bytes:
    """One equity.csv row as polars writes it."""
    start_ms, *values = row
    texts = [_plain(float(v)) for v in values]
    if start_ms % 1000 or not 0 <= start_ms < _YEAR_10000_MS or None in texts:  # a fraction of a second, or a float polars writes its way
        frame = pl.DataFrame([[start_ms], *([float(v)] for v in values)], schema={
            "timestamp": pl.Int64, "equity": pl.Float64, "position": pl.Float64, "drawdown": pl.Float64},
            orient="col").with_columns(pl.col("timestamp").cast(EQUITY_SCHEMA["timestamp"]))
        return frame.write_csv(datetime_format=ISO_FORMAT, include_header=False).encode("utf-8")
    return ",".join([_iso_seconds(start_ms), *texts]).encode("utf-8") + b"\n"  # type: ignore[list-item]


def _plain(value: float) -> str | None:
    """`repr(value)` when it is a plain decimal (what polars writes then too), else None."""
    text = repr(value)
    return None if "e" in text or "n" in text else text  # 1e-05, 1e+16, inf, nan: polars differs


def _iso_seconds(start_ms: int) -> str:
    # The epoch plus a timedelta, not fromtimestamp: Windows' gmtime stops at the year 3000.
    return (_EPOCH + timedelta(milliseconds=start_ms)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _records(trades: pl.DataFrame) -> list[dict[str, Any]]:
    return json_safe(trade_records(trades)) if trades.height else []


def _trade_text(record: dict[str, Any]) -> str:
    """One trade as an item of result.json's trade list (two levels deep, indent 2)."""
    return "    " + json.dumps(record, indent=2, allow_nan=False).replace("\n", "\n    ")


def _list_text(items: list[str]) -> str:
    return "[\n" + ",\n".join(items) + "\n  ]" if items else "[]"

