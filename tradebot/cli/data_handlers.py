"""The work behind `tradebot fetch`, `stream`, `data check` and `data repair` (their flags are in
cli/data.py; this module, with aiohttp and websockets behind it, loads only when one of them runs).

Thin wrappers: resolve `[bybit]` settings (and `[data] weekends` for `data check`), run the
data layer on one event loop, print results.
Exit codes: 0 ok, 1 `data check` found problems, 2 usage, 3 bad data, 4 network.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..config import Config
from ..data.backfill import FetchResult, backfill
from ..data.bybit import BybitRest, rows_to_frame
from ..data.integrity import check_file
from ..data.intervals import format_ms, parse_interval, parse_time
from ..data.progress import Progress
from ..data.repair import key_from_path, repair_file, repair_offline
from ..data.settings import DataSettings, load_settings
from ..data.store import CandleStore, SeriesKey, describe_range
from ..data.stream import StreamManager
from ..errors import UsageError
from .data import WEEKENDS

log = logging.getLogger("tradebot")


def settings_for(args: argparse.Namespace, config: Config) -> DataSettings:
    flags = {name: getattr(args, attr, None) for name, attr in
             (("rest_url", "rest_url"), ("ws_url", "ws_url"), ("store", "store"),
              ("category", "category"))}
    return load_settings(config, flags)


def series_keys(args: argparse.Namespace, settings: DataSettings) -> list[SeriesKey]:
    interval = parse_interval(args.interval)
    named = [*args.symbols, *script_symbols(getattr(args, "universe", None))]
    symbols = list(dict.fromkeys(s.upper() for s in named))  # Bybit symbols are upper case
    return [SeriesKey(settings.category, s, interval) for s in symbols]


def script_symbols(script: Path | None) -> tuple[str, ...]:
    """`fetch --universe SCRIPT`: the symbols the script reads from the store."""
    if script is None:
        return ()
    from ..pipeline import load_strategy  # the compiler: only for --universe
    from ..portfolio_pipeline import store_symbols

    strategy = load_strategy(script)
    symbols = store_symbols(strategy)
    if not symbols:
        universe = strategy.checked.settings.get("universe")
        what = f"its universe is a glob of files (`{universe}`)" if universe else "it has no universe"
        raise UsageError(f"{script}: no symbol to fetch: {what} and it reads no `close of SYMBOL` "
                         "from the store; list symbols with `universe BTCUSDT, ETHUSDT`")
    return symbols


def require_symbols(args: argparse.Namespace) -> None:
    if not args.symbols and getattr(args, "universe", None) is None:
        raise UsageError("name the symbols to fetch (tradebot fetch BTCUSDT ETHUSDT ...) "
                         "or a script with --universe SCRIPT")


def check_times(args: argparse.Namespace) -> None:
    """A misspelt --since/--until is refused before any request; the values themselves are read
    again against the exchange's clock once it is known (relative ages count back from it)."""
    local_now = int(time.time() * 1000)
    for flag in ("since", "until"):
        if getattr(args, flag, None):
            parse_time(getattr(args, flag), now_ms=local_now, flag=f"--{flag}")


def run_fetch(args: argparse.Namespace, config: Config) -> int:
    require_symbols(args)
    settings = settings_for(args, config)
    keys = series_keys(args, settings)
    check_times(args)
    store = settings.store()
    quiet = args.no_progress or getattr(args, "quiet", False)

    async def go() -> list[Any]:
        async with BybitRest(settings.rest) as rest:
            now = await rest.server_time()  # relative --since is relative to the exchange clock
            since = parse_time(args.since, now_ms=now)
            until = parse_time(args.until, now_ms=now, flag="--until") if args.until else None
            if until is not None and until < since:
                raise UsageError("--until is before --since")
            progress = Progress(0, label="fetch", enabled=not quiet)
            finished = SeriesProgress(len(keys), enabled=not quiet)
            results = await backfill(rest, store, keys, since=since, until=until, now_ms=now,
                                     concurrency=settings.concurrency, progress=progress,
                                     keep_going=True, on_done=finished.done)
            progress.close()
            return results

    results = asyncio.run(go())
    for result in results:
        if result.failed is None:
            print(f"{result.key}: +{result.added} candles, store holds "
                  f"{describe_range(result.first_ms, result.last_ms)} -> {store.path(result.key)}")
    failed = [result for result in results if result.failed is not None]
    for result in failed:  # after the others' lines: what was kept, then what failed and why
        print(f"{result.key}: not fetched; the store keeps {describe_range(result.first_ms, result.last_ms)}\n"
              f"{result.failed.render()}", file=sys.stderr)
    return max((result.failed.exit_code for result in failed), default=0)


class SeriesProgress:
    """One line on stderr as each series ends (the progress bar counts windows of all of them)."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled, self.count = total, enabled, 0

    def done(self, result: FetchResult) -> None:
        self.count += 1
        if self.enabled and self.total > 1:
            state = "failed" if result.failed is not None else f"+{result.added} candles"
            print(f"fetch: {result.key.symbol} {state} ({self.count} of {self.total} symbols)",
                  file=sys.stderr)


def run_stream(args: argparse.Namespace, config: Config) -> int:
    settings = settings_for(args, config)
    keys = series_keys(args, settings)
    check_times(args)
    store = settings.store()

    async def go() -> None:
        async with BybitRest(settings.rest) as rest, StreamManager(settings.stream, rest) as mgr:
            now = await rest.server_time()
            since = parse_time(args.since, now_ms=now) if args.since else None
            await gather_for([asyncio.create_task(write_stream(mgr, store, key, since_ms=since))
                              for key in keys], args.duration)

    try:
        asyncio.run(go())
    except KeyboardInterrupt:
        print("stream stopped", file=sys.stderr)
    return 0


async def gather_for(tasks: list[asyncio.Task[Any]], duration: float | None) -> None:
    """Run `tasks` until they end or `duration` seconds pass (None: no limit); cancel the rest."""
    try:
        await asyncio.wait_for(asyncio.gather(*tasks), duration)
    except asyncio.TimeoutError:
        pass  # --duration elapsed
    finally:
        for task in tasks:
            task.cancel()


async def write_stream(manager: StreamManager, store: CandleStore, key: SeriesKey, *,
                       since_ms: int | None) -> None:
    """Append every confirmed candle of `key`, resuming after the store's last candle."""
    last = await asyncio.to_thread(store.last_start, key)
    start = key.interval.next_start(last) if last is not None else since_ms
    sub = await manager.subscribe(key.category, key.symbol, key.interval, since_ms=start,
                                  confirmed_only=True)
    async for event in sub:
        await asyncio.to_thread(store.merge, key, rows_to_frame((event.row(),)))
        log.info("%s %s close %s (%s)", key, format_ms(event.start_ms), event.close, event.source)


def _csv_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.csv") if not p.name.endswith(".filled.csv"))
        else:
            files.append(path)
    return files


def weekends_closed(args: argparse.Namespace, config: Config) -> bool:
    """`--weekends`, else `[data] weekends` (or TRADEBOT_DATA_WEEKENDS), else open."""
    value = config.get("data", "weekends", "open", flag=args.weekends)
    text = str(value).strip().lower()
    if text not in WEEKENDS:
        raise UsageError(f"configuration data.weekends: expected open or closed, got {value!r}")
    return text == "closed"


def in_bybit_store(path: Path) -> bool:
    """Whether `data repair` can tell by the path alone which Bybit series the file holds."""
    try:
        key_from_path(path)
    except UsageError:
        return False
    return True


def run_check(args: argparse.Namespace, config: Config) -> int:
    interval = parse_interval(args.interval) if args.interval else None
    closed = weekends_closed(args, config)
    clean = True
    for path in _csv_files(args.paths):
        report = check_file(path, interval=interval, min_zero_run=args.zero_run,
                            weekends_closed=closed)
        print(report.render(bybit_store=in_bybit_store(path)))
        clean = clean and report.clean
    return 0 if clean else 1


def run_repair(args: argparse.Namespace, config: Config) -> int:
    settings = settings_for(args, config)
    store = settings.store()

    async def go() -> bool:
        clean = True
        async with BybitRest(settings.rest) as rest:
            for path in _csv_files(args.paths):
                if not (args.symbol or in_bybit_store(path)):  # nothing to refetch from
                    if args.fill:
                        raise UsageError(f"{path}: --fill needs --symbol (and --category, "
                                         "--interval) to know what Bybit has")
                    print(repair_offline(path, fsync=store.fsync).render())
                    report = check_file(path, interval=parse_interval(args.interval)
                                        if args.interval else None)
                    print(report.render())
                    clean = clean and report.clean
                    continue
                key = key_from_path(path, category=args.category, symbol=args.symbol,
                                    interval=args.interval)
                result = await repair_file(path, rest, store=store, key=key, fill=args.fill,
                                           concurrency=settings.concurrency)
                print(result.render())
                report = check_file(path, interval=key.interval)
                print(report.render())
                clean = clean and report.clean
        return clean

    return 0 if asyncio.run(go()) else 1
