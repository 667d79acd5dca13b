"""One script on one symbol, one confirmed bar at a time, resumable from its journal.

Each bar goes through the same path as a backtest, so the results are the backtest's:
1. it is appended to the session's frame, which starts at the session's first bar and never
   moves (a recursive indicator such as an EMA depends on where its data starts; a fixed first
   bar keeps it equal to a backtest over the same bars; see docs/paper.md for the memory this costs);
2. the script's compiled plan runs on the frame and the last row gives the signals and the risk
   levels (the plan is causal: a row depends only on the bars up to it);
3. the kernel's own `step` advances on that bar (PaperBroker), filling as the backtest fills.

The warm-up bars (history before the first live bar) pass through the kernel with every signal
off, so bar indices and `exit_after` counts match a backtest of the whole frame whose signals are
off before `live_from` (`verify`).

Durability: a live bar, the intent fed to the kernel and what it filled are one `step` record,
fsync'ed before the next bar is taken. A crash leaves each bar either wholly journaled or unseen:
resuming restores the kernel from the last snapshot and replays the journaled intents after it
(no fill journaled twice), and the feed hands over every bar after the last journaled one (none
skipped).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from ..errors import UserError
from ..lang.checker import SIGNALS
from ..pipeline import (PROGRAM_INPUT, Strategy, backtest_from_frame, engine_nodes, position_program,
                        rule_program)
from ..runtime.engine import BacktestResult, equity_curve, level_values, trades_frame
from ..runtime.metrics import bars_per_year, compute_metrics
from ..runtime.report import write_outputs
from .broker import Intent, PaperBroker
from .journal import JOURNAL_NAME, Journal, read_records

FORMAT = "tradebot-paper/1"
SNAPSHOT_EVERY = 50  # bars between kernel snapshots: a resume replays at most this many intents
OUTPUT_EVERY = 60  # bars between rewrites of trades/equity/result when no trade closed
_COLUMNS = ("timestamp", "open", "high", "low", "close", "volume")


class SessionError(UserError):
    """A session that cannot start or go on: a gap, a journal of another script, ..."""

    exit_code = 3


@dataclass(frozen=True)
class Identity:
    """What a session is: the script (by content), the market and the bar length."""

    script: str
    script_sha256: str
    symbol: str
    category: str
    interval: str
    interval_ms: int

    @classmethod
    def of(cls, strategy: Strategy, *, symbol: str, category: str, interval: str,
           interval_ms: int) -> Identity:
        digest = hashlib.sha256(strategy.checked.source.encode("utf-8")).hexdigest()
        return cls(str(strategy.path or strategy.checked.filename), digest, symbol, category,
                   interval, interval_ms)


class Frame:
    """The session's bars in growable numpy columns; `polars()` is the plan's input."""

    def __init__(self) -> None:
        self._data = np.zeros((6, 1024))
        self.size = 0

    def append(self, row: tuple[float, ...]) -> None:
        if self.size == self._data.shape[1]:
            self._data = np.concatenate([self._data, np.zeros_like(self._data)], axis=1)
        self._data[:, self.size] = row
        self.size += 1

    def row(self, index: int) -> list[float]:
        values = self._data[:, index].tolist()
        return [int(values[0]), *values[1:]]

    def last_start(self) -> int | None:
        return int(self._data[0, self.size - 1]) if self.size else None

    def polars(self) -> pl.DataFrame:
        data = self._data[:, :self.size]
        return pl.DataFrame({
            "timestamp": pl.Series(data[0].astype(np.int64)).cast(pl.Datetime("ms", "UTC")),
            **{name: pl.Series(data[i]) for i, name in enumerate(_COLUMNS) if i}})


class PaperSession:
    """A session folder: its journal, its outputs, and the state to take the next bar."""

    def __init__(self, strategy: Strategy, folder: Path, identity: Identity) -> None:
        self.strategy, self.folder, self.identity = strategy, Path(folder), identity
        self.config = strategy.execution()
        self.levels = level_values(self.config)
        self.frame = Frame()
        program = position_program(strategy.checked)
        self.inputs = [f"{PROGRAM_INPUT}{i}" for i in range(len(program.inputs) if program else 0)]
        self.broker = PaperBroker.for_config(self.config, rule_program(program, None))
        self.live_from = 0
        self.equity: list[tuple[float, float, float]] = []
        self.closed: list[np.ndarray] = []
        self.on_fill: Callable[[dict[str, Any]], None] = lambda trade: None
        self._journal: Journal | None = None
        self._since_output = 0

    # ---- opening

    @property
    def journal_path(self) -> Path:
        return self.folder / JOURNAL_NAME

    def exists(self) -> bool:
        return self.journal_path.exists() and self.journal_path.stat().st_size > 0

    def start(self, history: pl.DataFrame) -> None:
        """A new session whose warm-up is `history` (the bars before the first live one)."""
        self._journal = Journal(self.journal_path)
        header = {"kind": "header", "format": FORMAT, **self.identity.__dict__,
                  "settings": _json_settings(self.strategy), "warmup": history.height}
        self._journal.append(header)
        rows = [list(r) for r in history.select(
            pl.col("timestamp").dt.epoch("ms"), *_COLUMNS[1:]).iter_rows()]
        self._journal.append({"kind": "bars", "rows": rows})
        for row in rows:
            self._take_warmup(row)
        self.live_from = self.frame.size
        self._journal.append({"kind": "warm", "bar": self.frame.size,
                              "snapshot": self.broker.snapshot()})
        self.write_outputs()

    def resume(self) -> int:
        """Rebuild the session from its journal; the number of journaled bars processed again."""
        self._journal = Journal(self.journal_path)  # cuts a torn last record first
        records = list(read_records(self.journal_path))
        self._check_header(records[0] if records else {})
        steps: dict[int, dict[str, Any]] = {}
        snapshot: tuple[int, dict[str, Any]] | None = None
        for record in records:
            if record["kind"] == "bars":
                for row in record["rows"]:
                    self.frame.append(tuple(row))
            elif record["kind"] == "warm":
                self.live_from = record["bar"]
                snapshot = (record["bar"], record["snapshot"])
            elif record["kind"] == "step":
                self.frame.append(tuple(record["row"]))
                steps[record["bar"]] = record
                if "snapshot" in record:
                    snapshot = (record["bar"] + 1, record["snapshot"])
        if snapshot is None:
            raise SessionError(f"{self.journal_path}: the session never finished its warm-up; "
                               "delete the folder to start it again")
        self._rebuild(snapshot, steps)
        self.write_outputs()
        return len(steps)

    def _rebuild(self, snapshot: tuple[int, dict[str, Any]], steps: dict[int, dict[str, Any]]) -> None:
        """The equity and fills so far from the step records, the kernel from the last snapshot
        plus the intents journaled after it (their fills are already in the journal)."""
        self.equity = [(self.config.capital, 0.0, 0.0)] * self.live_from
        for bar in sorted(steps):
            record = steps[bar]
            self.equity.append((record["equity"], record["position"], record["drawdown"]))
            self.closed += [np.array(row) for row in record["closed"]]
        start, state = snapshot
        self.broker = PaperBroker.restore(state)
        for bar in range(start, self.live_from + len(steps)):
            self.broker.submit(_intent(steps[bar]["intent"]))

    def _check_header(self, header: dict[str, Any]) -> None:
        if header.get("format") != FORMAT:
            raise SessionError(f"{self.journal_path}: not a paper-trading journal")
        mine = self.identity.__dict__
        for key in ("script_sha256", "symbol", "category", "interval"):
            if header.get(key) != mine[key]:
                what = "the script changed since" if key == "script_sha256" else f"{key} {mine[key]} differs from"
                raise SessionError(f"{self.folder}: {what} the session's ({header.get(key)}); "
                                   "use another --out folder for a new session")

    # ---- running

    def on_bar(self, row: tuple[int, float, float, float, float, float]) -> dict[str, Any] | None:
        """One confirmed bar (start_ms, o, h, l, c, v). A bar already seen is ignored (None); a
        bar after a hole is refused: the feed refills holes before handing on later bars."""
        last = self.frame.last_start()
        if last is not None and row[0] <= last:
            return None
        if last is not None and row[0] != last + self.identity.interval_ms:
            raise SessionError(f"{self.identity.symbol}: bar {_iso(row[0])} follows {_iso(last)}; "
                               f"the {self.identity.interval} bars between are missing")
        self.frame.append(tuple(row))
        return self._process(self.frame.size - 1)

    def _process(self, bar: int) -> dict[str, Any]:
        """Decide, fill and journal bar `bar` in one record (with the bar itself): a crash before
        the record is complete leaves the bar unseen, and the feed hands it over again."""
        intent = self._decide(bar)
        outcome = self.broker.submit(intent)
        record: dict[str, Any] = {
            "kind": "step", "bar": bar, "row": self.frame.row(bar),
            "intent": [list(intent.bar), list(intent.signals), list(intent.levels), list(intent.inputs)],
            "equity": outcome.equity, "position": outcome.position, "drawdown": outcome.drawdown,
            "closed": outcome.closed.tolist()}
        if (bar + 1) % SNAPSHOT_EVERY == 0:
            record["snapshot"] = self.broker.snapshot()
        assert self._journal is not None
        self._journal.append(record)
        self.equity.append((outcome.equity, outcome.position, outcome.drawdown))
        self.closed += list(outcome.closed)
        self._since_output += 1
        if len(outcome.closed) or self._since_output >= OUTPUT_EVERY:
            self.write_outputs()
        for trade in outcome.closed:
            self.on_fill(self._trade_dict(trade))
        return record

    def _decide(self, bar: int) -> Intent:
        """The plan on every bar so far; the last row is this bar's signals and levels."""
        frame = self.frame.polars()
        outputs = self.strategy.plan.evaluate(frame, interval=self.identity.interval_ms)
        last = outputs.row(bar, named=True)
        prices = tuple(float(v) for v in frame.row(bar)[1:5])
        signals = tuple(bool(last[name]) for name in SIGNALS)
        levels = tuple(_level(value, last) for value in self.levels)
        inputs = tuple(_level(name, last) for name in self.inputs)
        return Intent(prices, signals, levels, inputs)  # type: ignore[arg-type]

    def _take_warmup(self, row: list[float]) -> None:
        self.frame.append(tuple(row))
        # Warm-up: no signal, and no input for the rules reading position state (which start,
        # like their recursions, on the first live bar; `backtest_of_session` masks the same).
        outcome = self.broker.submit(Intent(tuple(row[1:5]), (False,) * 4,  # type: ignore[arg-type]
                                            tuple(math.nan for _ in self.levels),
                                            tuple(math.nan for _ in self.inputs)))
        self.equity.append((outcome.equity, outcome.position, outcome.drawdown))

    # ---- results

    def result(self) -> BacktestResult:
        """The session so far in the shape of a backtest result (the same writers and metrics)."""
        frame = self.frame.polars()
        timestamps = frame["timestamp"]
        records = np.array(self.closed).reshape(len(self.closed), -1) if self.closed else \
            self.broker.fills()[:0]
        trades = trades_frame(records, timestamps)
        values = np.array(self.equity).reshape(len(self.equity), 3)
        equity = equity_curve(timestamps, values[:, 0], values[:, 1], drawdowns=values[:, 2])
        per_year = bars_per_year(timestamps) if frame.height > 1 else 1.0
        metrics = compute_metrics(trades, equity, capital=self.config.capital, bars_per_year=per_year,
                                  close=frame["close"].to_numpy())
        return BacktestResult(trades, equity, metrics, self.config, per_year)

    def write_outputs(self) -> None:
        if self.frame.size < 2:
            return
        frame = self.frame.polars()
        settings = {"strategy": self.strategy.title, "script": self.identity.script,
                    "symbol": self.identity.symbol, "interval": self.identity.interval,
                    "bars": frame.height, "live_from": str(frame["timestamp"][min(self.live_from, frame.height - 1)]),
                    "from": str(frame["timestamp"][0]), "to": str(frame["timestamp"][-1])}
        write_outputs(self.result(), self.folder, settings=settings,
                      params=self.strategy.checked.param_values)
        self._since_output = 0

    def _trade_dict(self, trade: np.ndarray) -> dict[str, Any]:
        timestamps = self.frame.polars()["timestamp"]
        return trades_frame(trade.reshape(1, -1), timestamps).row(0, named=True)

    def close(self) -> None:
        if self._journal is not None:
            self.write_outputs()
            self._journal.close()
            self._journal = None


def backtest_of_session(strategy: Strategy, bars: pl.DataFrame, live_from: int, *,
                        interval_ms: int) -> BacktestResult:
    """`tradebot run` on the bars a session saw, every signal off before its first live bar."""
    outputs = strategy.plan.evaluate(bars, interval=interval_ms)
    row = pl.int_range(pl.len())
    inputs = [name for name in outputs.columns if name.startswith(PROGRAM_INPUT)]
    masked = outputs.with_columns(*(pl.when(row >= live_from).then(pl.col(name)).otherwise(False).alias(name)
                                    for name in SIGNALS),
                                  *(pl.when(row >= live_from).then(pl.col(name)).alias(name) for name in inputs))
    return backtest_from_frame(strategy.checked, bars, masked)


def series_names(strategy: Strategy) -> list[str]:
    return [name for name in engine_nodes(strategy.checked) if name not in SIGNALS]


def _intent(data: list[list[Any]]) -> Intent:
    bar, signals, levels, *inputs = data
    return Intent(tuple(bar), tuple(bool(s) for s in signals), tuple(float(v) for v in levels),  # type: ignore[arg-type]
                  tuple(float(v) for v in (inputs[0] if inputs else ())))


def _level(value: float | str, row: dict[str, Any]) -> float:
    if isinstance(value, str):
        found = row[value]
        return math.nan if found is None else float(found)
    return float(value)


def _iso(start_ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(start_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _json_settings(strategy: Strategy) -> dict[str, Any]:
    return {key: value for key, value in strategy.checked.settings.items()
            if isinstance(value, (int, float, str, bool)) or value is None}
