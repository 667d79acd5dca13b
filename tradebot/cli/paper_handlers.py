"""The work behind `tradebot paper` (flags in cli/paper.py; loads the data layer only when run).

Exit codes: 0 stopped (Ctrl-C, --duration, end of a replay) or verified identical, 1 verify found
a difference, 2 usage or script error, 3 bad data, 4 the exchange unreachable.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time
from itertools import product
from pathlib import Path
from typing import Any

from ..config import Config
from ..data.intervals import format_ms, parse_interval
from ..errors import UsageError
from ..lang.lookback import lookback
from ..live import feed
from ..live.journal import JOURNAL_NAME
from ..live.review import read_session, standing_orders, status_lines, verify
from ..live.session import Identity, PaperSession, request_cancel
from ..pipeline import Strategy, engine_nodes, load_strategy
from .flags import parse_overrides
from .paper import SESSIONS
from .run import print_warnings


def run_paper(args: argparse.Namespace, config: Config) -> int:
    word = args.scripts[0]
    if word == "status":
        return _status(args.scripts[1:])
    if word == "cancel":
        if len(args.scripts) != 3:
            raise UsageError("usage: tradebot paper cancel SESSION ORDER (an order `paper status` lists)")
        return _cancel(Path(args.scripts[1]), args.scripts[2])
    if word == "verify":
        if len(args.scripts) != 2:
            raise UsageError("usage: tradebot paper verify SESSION (one session folder)")
        return _verify(Path(args.scripts[1]))
    strategies = [load_strategy(Path(s), overrides=parse_overrides(args.overrides)) for s in args.scripts]
    for strategy in strategies:
        print_warnings(strategy)
    try:
        if args.replay:
            return _replay(args, strategies)
        return _live(args, config, strategies)
    except KeyboardInterrupt:
        print("paper trading stopped; the same command resumes it", file=sys.stderr)
        return 0


def warmup_of(strategy: Strategy, interval_ms: int) -> int:
    return lookback(engine_nodes(strategy.checked).values()).bars(interval_ms)


def _folder(args: argparse.Namespace, strategy: Strategy, symbol: str, interval: str, count: int) -> Path:
    name = f"{strategy.path.stem if strategy.path else 'script'}-{symbol}-{interval}"
    if args.out is None:
        return SESSIONS / name
    return args.out if count == 1 else args.out / name


def _open(session: PaperSession, history: Any) -> None:
    if session.exists():
        restored = session.resume()
        print(f"{session.folder}: resumed after bar {format_ms(session.frame.last_start() or 0)} "
              f"({restored} live bars restored from the journal)", file=sys.stderr)
    else:
        session.start(history)
        print(f"{session.folder}: started, warm-up {history.height} bars", file=sys.stderr)
    name = session.folder.name
    session.on_fill = lambda trade: print(_fill_text(name, trade), flush=True)
    _take_cancels(session)


def _take_cancels(session: PaperSession) -> None:
    """The cancel requests left by `tradebot paper cancel`, each with what became of it."""
    for order_id, done in session.take_cancel_requests():
        outcome = "cancelled" if done else "no longer stands (filled, expired or replaced): nothing cancelled"
        print(f"{session.folder.name} order {order_id} {outcome}", file=sys.stderr, flush=True)


def _replay(args: argparse.Namespace, strategies: list[Strategy]) -> int:
    bars, step = feed.replay_bars(args.replay)
    symbol, interval = args.replay.parent.name or "replay", _interval_text(step)
    sessions = []
    for strategy in strategies:
        warmup = warmup_of(strategy, step)
        history, _ = feed.split_warmup(bars, warmup, str(args.replay))
        identity = Identity.of(strategy, symbol=symbol, category="replay", interval=interval,
                               interval_ms=step)
        session = PaperSession(strategy, _folder(args, strategy, symbol, interval, len(strategies)), identity)
        _open(session, history)
        sessions.append(session)
    try:
        for row in feed.rows(bars):
            for session in sessions:
                session.on_bar(row)  # bars already in the session (warm-up, resumed) are skipped
                _take_cancels(session)
    finally:
        for session in sessions:
            session.close()
            print("\n".join(status_lines(read_session(session.folder), now_ms=_now())), file=sys.stderr)
    return 0


def _live(args: argparse.Namespace, config: Config, strategies: list[Strategy]) -> int:
    from ..data.bybit import BybitRest
    from ..data.store import SeriesKey
    from ..data.stream import StreamManager
    from .data_handlers import gather_for, settings_for

    if not args.symbols or not args.interval:
        raise UsageError("paper trading live needs --symbol and --interval (or --replay FILE)")
    interval = parse_interval(args.interval)
    if interval.ms is None:
        raise UsageError(f"--interval {args.interval}: paper trading needs a fixed bar length")
    settings = settings_for(args, config)
    store = settings.store()
    symbols = list(dict.fromkeys(s.upper() for s in args.symbols))
    pairs = list(product(strategies, symbols))

    async def go() -> None:
        async with BybitRest(settings.rest) as rest, StreamManager(settings.stream, rest) as manager:
            now = await feed.server_time(rest)
            tasks = []
            for strategy, symbol in pairs:
                key = SeriesKey(settings.category, symbol, interval)
                identity = Identity.of(strategy, symbol=symbol, category=settings.category,
                                       interval=interval.name, interval_ms=interval.ms)
                session = PaperSession(strategy, _folder(args, strategy, symbol, interval.name, len(pairs)),
                                       identity)
                history = None if session.exists() else await feed.warm_history(
                    rest, store, key, warmup=warmup_of(strategy, interval.ms), now_ms=now)
                _open(session, history)
                tasks.append(asyncio.create_task(_trade(manager, key, session)))
            await gather_for(tasks, args.duration)

    asyncio.run(go())
    return 0


async def _trade(manager: Any, key: Any, session: PaperSession) -> None:
    """Every confirmed candle after the session's last bar (missed ones refilled first)."""
    last = session.frame.last_start()
    sub = await manager.subscribe(key.category, key.symbol, key.interval,
                                  since_ms=None if last is None else last + session.identity.interval_ms,
                                  confirmed_only=True)
    held = session.broker.position()
    try:
        async for event in sub:
            started = time.perf_counter()
            record = session.on_bar(event.row())
            _take_cancels(session)  # after the decision: a request never delays a candle
            if record is not None:
                if record["position"] != held:  # an entry, an addition or an exit filled on this bar
                    print(f"{session.folder.name} {format_ms(event.start_ms)} position {held:g} -> "
                          f"{record['position']:g}", flush=True)
                    held = record["position"]
                print(f"{session.folder.name} {format_ms(event.start_ms)} close {event.close:g} "
                      f"position {record['position']:g} equity {record['equity']:.2f} "
                      f"({(time.perf_counter() - started) * 1000:.0f} ms, {event.source})", file=sys.stderr)
    finally:
        session.close()


def _status(folders: list[str]) -> int:
    paths = [Path(f) for f in folders] or sorted(p.parent for p in SESSIONS.glob(f"*/{JOURNAL_NAME}"))
    if not paths:
        print(f"no sessions under {SESSIONS}/", file=sys.stderr)
    for path in paths:
        print("\n".join(status_lines(read_session(path), now_ms=_now())))
    return 0


def _cancel(folder: Path, order_id: str) -> int:
    standing = standing_orders(read_session(folder))
    if order_id not in standing:
        raise UsageError(f"{folder}: no order {order_id} stands after the last bar "
                         f"({', '.join(standing) or 'none stands'})")
    request_cancel(folder, order_id)
    print(f"{folder}: cancel of {order_id} requested; the session takes it before its next bar "
          "(it may have filled by then: the session's terminal says which)")
    return 0


def _verify(folder: Path) -> int:
    same, message = verify(read_session(folder))
    print(f"{folder}: {message}")
    return 0 if same else 1


def _fill_text(name: str, trade: dict[str, Any]) -> str:
    return (f"{name} fill: {trade['side']} {trade['qty']:g} {trade['entry_time']:%Y-%m-%d %H:%M} "
            f"@ {trade['entry_price']:g} -> {trade['exit_time']:%Y-%m-%d %H:%M} @ "
            f"{trade['exit_price']:g} ({trade['exit_reason']}) P&L {trade['pnl']:.2f}")


def _interval_text(step_ms: int) -> str:
    for unit, ms in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if step_ms % ms == 0:
            return f"{step_ms // ms}{unit}"
    return f"{step_ms}ms"


def _now() -> int:
    return int(time.time() * 1000)
