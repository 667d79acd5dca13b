"""One script on one symbol, one confirmed bar at a time, resumable from its journal.

Each bar goes through the same path as a backtest, so the results are the backtest's:
1. it is appended to the session's frame, a window of the last bars whose first bar moves only
   where that changes no value the plan computes, bit for bit (window.py: a recursive
   indicator such as an EMA depends on where its data starts, until it has converged);
2. the script's compiled plan runs on the frame and the last row gives the signals and the risk
   levels (the plan is causal: a row depends only on the bars up to it);
3. the kernel's own `step` advances on that bar (PaperBroker), filling as the backtest fills.

The warm-up bars (history before the first live bar) pass through the kernel with every signal
off, so bar indices and `exit_after` counts match a backtest of the whole frame whose signals are
off before `live_from` (`verify`).

Durability: a live bar, the intent fed to the kernel, what it filled, the orders standing and
any move of the window's first bar are one `step` record, fsync'ed before the next bar is taken;
a cancel is its own record, fsync'ed before the request is deleted. A crash leaves each bar either wholly journaled or unseen:
resuming restores the kernel from the last snapshot and replays the journaled intents after it
(no fill journaled twice), and the feed hands over every bar after the last journaled one (none
skipped).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import polars as pl

from ..errors import UserError
from ..lang.checker import SIGNALS
from ..market.bars import OHLCV_COLUMNS
from ..pipeline import (PROGRAM_INPUT, Strategy, backtest_from_frame, engine_nodes, position_program,
                        rule_program)
from ..runtime.engine import BacktestResult, equity_curve, ruin_of, trades_frame
from ..runtime.execution import level_values
from ..runtime.metrics import bars_per_year, compute_metrics
from .broker import Intent, PaperBroker
from .frame import Columns, Frame
from .journal import Journal, journal_in, read_records
from .outputs import SessionOutputs, trades_of
from .window import Retention, same_state

FORMAT = "tradebot-paper/1"
SNAPSHOT_EVERY = 50  # bars between kernel snapshots: a resume replays at most this many intents
OUTPUT_EVERY = 60  # bars between rewrites of result.json when no trade closed
# ... and at most one rewrite in this many seconds: its metrics read the whole equity curve, so a
# replay racing through old bars would otherwise spend more on them the older the session gets
# (a live session on 1-minute bars is never held back: its bars come a minute apart).
RESULT_PAUSE_S = 5.0
CANCEL_GLOB = "cancel-*.request"  # `tradebot paper cancel` leaves one file per request


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


class PaperSession:
    """A session folder: its journal, its outputs, and the state to take the next bar."""

    def __init__(self, strategy: Strategy, folder: Path, identity: Identity, *,
                 retention: Retention | None = None) -> None:
        self.strategy, self.folder, self.identity = strategy, Path(folder), identity
        self.config = strategy.execution()
        self.levels = level_values(self.config)
        self.frame = Frame(identity.interval_ms)
        self.retention = retention or Retention.of(
            strategy.plan, list(engine_nodes(strategy.checked).values()), identity.interval_ms)
        program = position_program(strategy.checked)
        self.inputs = [f"{PROGRAM_INPUT}{i}" for i in range(len(program.inputs) if program else 0)]
        self.broker = PaperBroker.for_config(self.config, rule_program(program, None))
        self.live_from = 0
        self.equity = Columns(3)  # equity, position, drawdown of every bar (24 bytes a bar)
        self.outputs = SessionOutputs(self.folder)  # trades.csv, equity.csv, result.json
        self.cancelled: set[str] = set()  # the cancel requests already journaled
        self.on_fill: Callable[[dict[str, Any]], None] = lambda trade: None
        self._journal: Journal | None = None
        self._since_output = 0
        self._stale = False  # result.json lacks a closed trade or OUTPUT_EVERY bars
        self._result_at = -math.inf  # when result.json was last written (time.monotonic)

    # ---- opening

    @property
    def journal_path(self) -> Path:
        return journal_in(self.folder)

    def exists(self) -> bool:
        """Whether the folder holds a session to resume. One killed before the end of its warm-up
        has nothing live yet: it is started again (`start`), as if it had never begun."""
        if not self.journal_path.exists() or self.journal_path.stat().st_size == 0:
            return False
        return not _killed_in_warm_up(self.journal_path)

    def start(self, history: pl.DataFrame) -> None:
        """A new session whose warm-up is `history` (the bars before the first live one)."""
        self.journal_path.unlink(missing_ok=True)  # a warm-up cut short by a kill (`exists`)
        self._journal = Journal(self.journal_path)
        header = {"kind": "header", "format": FORMAT, **self.identity.__dict__,
                  "settings": _json_settings(self.strategy), "warmup": history.height}
        self._journal.append(header)
        rows = [list(r) for r in history.select(
            pl.col("timestamp").dt.epoch("ms"), *OHLCV_COLUMNS[1:]).iter_rows()]
        self._journal.append({"kind": "bars", "rows": rows})
        for row in rows:
            self._take_warmup(row)
        self.live_from = self.frame.size
        warm = {"kind": "warm", "bar": self.frame.size, "snapshot": self.broker.snapshot()}
        window = self._next_window()  # a long history: the first live bar sees the window only
        if window is not None:
            warm["window"] = window
        self._journal.append(warm)
        if window is not None:
            self._move_window(window)
        self._rewrite_outputs(self.broker.fills())

    def resume(self) -> int:
        """Rebuild the session from its journal, read record by record (the bars before the last
        journaled first bar are not kept); the number of journaled live bars."""
        self._journal = Journal(self.journal_path)  # cuts a torn last record first
        records = read_records(self.journal_path)
        self._check_header(next(records, {}))
        replay: list[dict[str, Any]] = []  # the steps and cancels after the last snapshot
        snapshot: dict[str, Any] | None = None
        steps = 0
        closed: list[list[float]] = []  # every trade closed, in closing order
        for record in records:
            kind = record["kind"]
            if kind == "bars":
                for row in record["rows"]:  # the warm-up: every signal off, nothing held
                    self.frame.append(row)
                    self.equity.append((self.config.capital, 0.0, 0.0))
            elif kind == "warm":
                self.live_from, snapshot, replay = record["bar"], record["snapshot"], []
                if "window" in record:
                    self._move_window(record["window"])
            elif kind == "step":
                steps += 1
                self._take_journaled(record)
                closed += record["closed"]
                replay.append(record)
                if "snapshot" in record:
                    snapshot, replay = record["snapshot"], []
            elif kind == "cancel":
                self.cancelled.add(record["request"])
                replay.append(record)
        if snapshot is None:
            raise SessionError(f"{self.journal_path}: the session never finished its warm-up; "
                               "delete the folder to start it again")
        # The kernel from the last snapshot (with the trades journaled up to it: a snapshot counts
        # them only), then the intents and cancels journaled after it (their fills are already in
        # the journal).
        records = np.array(closed, dtype=float).reshape(len(closed), -1) if closed else self.broker.fills()[:0]
        self.broker = PaperBroker.restore(snapshot, records)
        for record in replay:
            if record["kind"] == "step":
                self.broker.submit(_intent(record["intent"]))
            else:
                self.broker.cancel(record["order"])
        # The files follow the journal: whatever a crash left of them, rewritten from it.
        self._rewrite_outputs(records)
        return steps

    def _take_journaled(self, record: dict[str, Any]) -> None:
        """A live bar as its step record left it: the bar, its outcome, and the first bar kept."""
        self.frame.append(record["row"])
        self.equity.append((record["equity"], record["position"], record["drawdown"]))
        if "window" in record:
            self._move_window(record["window"])

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
        self.frame.append(row)
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
            "closed": outcome.closed.tolist(), "orders": [o.__dict__ for o in self.broker.orders()]}
        if (bar + 1) % SNAPSHOT_EVERY == 0:
            record["snapshot"] = self.broker.snapshot()
        window = self._next_window()
        if window is not None:
            record["window"] = window
        assert self._journal is not None
        self._journal.append(record)
        if window is not None:
            self._move_window(window)
        self.equity.append((outcome.equity, outcome.position, outcome.drawdown))
        # After the journal, the files: a crash between the two is put right on resume.
        trades = trades_of(outcome.closed, self.frame.origin_ms or 0, self.identity.interval_ms) \
            if len(outcome.closed) else None
        self.outputs.append((int(record["row"][0]), outcome.equity, outcome.position, outcome.drawdown), trades)
        self._since_output += 1
        self._stale = self._stale or trades is not None or self._since_output >= OUTPUT_EVERY
        if self._stale and time.monotonic() - self._result_at >= RESULT_PAUSE_S:
            self.write_result()
        for trade in trades.iter_rows(named=True) if trades is not None else ():
            self.on_fill(trade)
        return record

    def _next_window(self) -> dict[str, int] | None:
        """When the frame holds `keep + step` bars: whether the oldest can be forgotten without
        changing any value (window.py), as {"first": bar kept first, "horizon": ...}; after a
        failed check the first bar stays and the horizon doubles."""
        retention = self.retention
        spare = self.frame.held - retention.keep
        if retention.never_forgets or spare < retention.step:
            return None
        forget = spare // retention.period * retention.period
        if same_state(self.strategy.plan, self.frame.polars(), forget, retention.horizon,
                      interval_ms=self.identity.interval_ms):
            return {"first": self.frame.first + forget, "horizon": retention.horizon}
        return {"first": self.frame.first, "horizon": retention.longer().horizon}

    def _move_window(self, window: dict[str, int]) -> None:
        self.frame.forget_before(window["first"])
        self.retention = replace(self.retention, horizon=window["horizon"])

    def _decide(self, bar: int) -> Intent:
        """The plan on the bars held; the last row is this bar's signals and levels."""
        frame = self.frame.polars()
        outputs = self.strategy.plan.evaluate(frame, interval=self.identity.interval_ms)
        last = outputs.row(bar - self.frame.first, named=True)
        prices = tuple(float(v) for v in self.frame.row(bar)[1:5])
        signals = tuple(bool(last[name]) for name in SIGNALS)
        levels = tuple(_level(value, last) for value in self.levels)
        inputs = tuple(_level(name, last) for name in self.inputs)
        return Intent(prices, signals, levels, inputs)  # type: ignore[arg-type]

    def _take_warmup(self, row: list[float]) -> None:
        self.frame.append(row)
        # Warm-up: no signal, and no input for the rules reading position state (which start,
        # like their recursions, on the first live bar; `backtest_of_session` masks the same).
        outcome = self.broker.submit(Intent(tuple(row[1:5]), (False,) * 4,  # type: ignore[arg-type]
                                            tuple(math.nan for _ in self.levels),
                                            tuple(math.nan for _ in self.inputs)))
        self.equity.append((outcome.equity, outcome.position, outcome.drawdown))

    # ---- cancelling

    def cancel(self, order_id: str, request: str) -> bool:
        """Cancel the standing entry order `order_id` (Broker.cancel) and journal it, fsync'ed,
        before anything else happens: a resumed session cancels it again at the same point, so
        it never fills. `request` names the request, taken once. False when no such order
        stands any more (filled, expired or replaced): nothing is journaled but the request."""
        if request in self.cancelled:
            return False
        done = self.broker.cancel(order_id)
        assert self._journal is not None
        self._journal.append({"kind": "cancel", "after": self.frame.size - 1, "order": order_id,
                              "request": request, "done": done})
        self.cancelled.add(request)
        return done

    def take_cancel_requests(self) -> list[tuple[str, bool]]:
        """The cancel requests `tradebot paper cancel` left in the folder, applied in the order
        they were made and then deleted (a request already journaled is only deleted)."""
        taken = []
        for path in sorted(self.folder.glob(CANCEL_GLOB)):
            request = path.stem
            order_id = path.read_text(encoding="utf-8").strip()  # written whole (request_cancel)
            if request not in self.cancelled:
                taken.append((order_id, self.cancel(order_id, request)))
            path.unlink(missing_ok=True)  # after the journal has it: a kill before takes it again
        return taken

    # ---- results

    def result(self, timestamps: pl.Series | None = None) -> BacktestResult:
        """The session so far in the shape of a backtest result (the same writers and metrics);
        `timestamps`: `self.frame.timestamps()` when the caller has it."""
        timestamps = self.frame.timestamps() if timestamps is None else timestamps
        equity, position, drawdown = self.equity.values()
        curve = equity_curve(timestamps, equity, position, drawdowns=drawdown)
        per_year = bars_per_year(timestamps) if len(timestamps) > 1 else 1.0
        trades = self.outputs.trades
        metrics = compute_metrics(trades, curve, capital=self.config.capital, bars_per_year=per_year,
                                  close=np.array([self.frame.first_close, self.frame.last_close()]))
        return BacktestResult(trades, curve, metrics, self.config, per_year,
                              ruin_of(self.broker.ruin(), timestamps))

    def write_result(self) -> None:
        """result.json as `tradebot run --out` writes it, for the bars so far."""
        if self.frame.size < 2:
            return
        timestamps = self.frame.timestamps()
        settings = {"strategy": self.strategy.title, "script": self.identity.script,
                    "symbol": self.identity.symbol, "interval": self.identity.interval,
                    "bars": len(timestamps), "live_from": str(timestamps[min(self.live_from, len(timestamps) - 1)]),
                    "from": str(timestamps[0]), "to": str(timestamps[-1])}
        self.outputs.write_result(self.result(timestamps), settings=settings,
                                  params=self.strategy.checked.param_values)
        self._since_output, self._stale, self._result_at = 0, False, time.monotonic()

    def _rewrite_outputs(self, closed: np.ndarray) -> None:
        """trades.csv and equity.csv whole from the trades `closed` and the equity held (on
        start and resume), then result.json."""
        timestamps = self.frame.timestamps()
        equity, position, drawdown = self.equity.values()
        self.outputs.rewrite(trades_of(closed, self.frame.origin_ms or 0, self.identity.interval_ms),
                             equity_curve(timestamps, equity, position, drawdowns=drawdown))
        self.write_result()

    def close(self) -> None:
        if self._journal is not None:
            self.write_result()
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


def request_cancel(folder: Path, order_id: str) -> Path:
    """Leave a request to cancel `order_id` for the session in `folder`, which takes it before
    its next bar (or when it starts again). Written whole under a temporary name, then renamed:
    a session never reads half a request."""
    name = f"cancel-{time.time_ns():020d}-{os.getpid()}"
    temporary = folder / f"{name}.tmp"
    temporary.write_text(order_id, encoding="utf-8")
    return temporary.replace(folder / CANCEL_GLOB.replace("*", name[len("cancel-"):]))


def replay_with_cancels(strategy: Strategy, bars: pl.DataFrame, live_from: int,
                        cancels: Sequence[tuple[int, str]], *, interval_ms: int) -> BacktestResult:
    """`backtest_of_session` for a session whose orders were cancelled: the plan over every bar
    (not the session's window), then the kernel's `step` bar by bar (the loop body of
    `simulate`), withdrawing each order after the bar it was cancelled on (`cancels`: (bar,
    order id)). The trades and equity only: no metrics."""
    outputs = strategy.plan.evaluate(bars, interval=interval_ms)
    config = strategy.execution()
    broker = PaperBroker.for_config(config)
    levels = level_values(config)
    prices = bars.select("open", "high", "low", "close").rows()
    after: dict[int, list[str]] = {}
    for bar, order in cancels:
        after.setdefault(bar, []).append(order)
    equity = []
    for bar, row in enumerate(outputs.iter_rows(named=True)):
        signals = tuple(bool(row[name]) and bar >= live_from for name in SIGNALS)
        outcome = broker.stepper.on_bar(prices[bar], signals, tuple(_level(v, row) for v in levels),
                                        is_last=bar == bars.height - 1)
        equity.append((outcome.equity, outcome.position, outcome.drawdown))
        for order in after.get(bar, []):
            broker.cancel(order)
    values = np.array(equity).reshape(len(equity), 3)
    curve = equity_curve(bars["timestamp"], values[:, 0], values[:, 1], drawdowns=values[:, 2])
    return BacktestResult(trades_frame(broker.fills(), bars["timestamp"]), curve, {}, config, 1.0)


def series_names(strategy: Strategy) -> list[str]:
    return [name for name in engine_nodes(strategy.checked) if name not in SIGNALS]


def _killed_in_warm_up(path: Path) -> bool:
    """A journal of this format whose first records (header, warm-up bars, warm) stop before
    the warm record: the warm-up was being written when the process died."""
    with open(path, "rb") as handle:
        for _ in range(3):
            line = handle.readline()
            if not line.endswith(b"\n"):
                return True  # torn: the records before it were the warm-up's
            try:
                record = json.loads(line)
            except ValueError:
                return False  # not a record: resume names the problem
            if record.get("kind") == "warm":
                return False
            if record.get("kind") == "header" and record.get("format") != FORMAT:
                return False  # another journal: resume names it
    return False


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
