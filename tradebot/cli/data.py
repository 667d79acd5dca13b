"""`tradebot fetch`, `tradebot stream`, `tradebot data check`, `tradebot data repair`: their flags.

The handlers live in cli/data_handlers.py and are imported only when one of these commands runs,
so every other command starts without aiohttp and websockets. Exit codes: 0 ok, 1 `data check`
found problems, 2 usage, 3 bad data, 4 network.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..data.intervals import INTERVALS
from . import lazy

HANDLERS = "tradebot.cli.data_handlers"
INTERVAL_HELP = "candle interval: " + ", ".join(INTERVALS)
WEEKENDS = ("open", "closed")


def add_commands(subparsers: Any) -> None:
    fetch = subparsers.add_parser("fetch", help="backfill Bybit candles into the store",
                                  description="Fetch what the store lacks between --since and "
                                  "--until; several symbols run concurrently.")
    fetch.add_argument("symbols", nargs="*", metavar="SYMBOL")
    fetch.add_argument("--universe", type=Path, metavar="SCRIPT", help="also every symbol the "
                       "script reads from the store: its `universe` list and each `close of SYMBOL`")
    _series_flags(fetch)
    fetch.add_argument("--since", required=True,
                       help="start: 2024-01-01, an ISO-8601 time, or an age such as 90d, 12h")
    fetch.add_argument("--until", help="end (inclusive), same forms as --since; default: now")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    fetch.set_defaults(handler=lazy(HANDLERS, "run_fetch"))

    stream = subparsers.add_parser("stream", help="append closed candles from the live stream",
                                   description="Subscribe to Bybit's kline stream and append "
                                   "every confirmed candle; missed candles are refetched.")
    stream.add_argument("symbols", nargs="+", metavar="SYMBOL")
    _series_flags(stream)
    stream.add_argument("--ws-url", help="stream base URL (config bybit.ws_url)")
    stream.add_argument("--since", help="when the store is empty, first fetch closed candles "
                        "from this time (same forms as fetch --since)")
    stream.add_argument("--duration", type=float, help="stop after this many seconds")
    stream.set_defaults(handler=lazy(HANDLERS, "run_stream"))

    data = subparsers.add_parser("data", help="check or repair store files")
    actions = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    check = actions.add_parser("check", help="report gaps, duplicates, order and OHLC problems")
    check.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                       help="CSV files or folders (searched for *.csv)")
    check.add_argument("--interval", help="interval when the file name does not say it")
    check.add_argument("--zero-run", type=int, default=3, metavar="N",
                       help="report runs of at least N zero-volume candles (default 3)")
    check.add_argument("--weekends", choices=WEEKENDS,
                       help="closed: the market closes at weekends (FX, equities), so weekend "
                       "closures are not gaps (default open; config [data] weekends)")
    check.set_defaults(handler=lazy(HANDLERS, "run_check"))
    repair = actions.add_parser("repair", help="fix order/duplicates/torn tail, refetch gaps")
    repair.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    repair.add_argument("--fill", action="store_true", help="fill gaps Bybit has no data for "
                        "with flat zero-volume candles, listed in <interval>.filled.csv")
    repair.add_argument("--category", choices=("linear", "spot", "inverse"))
    repair.add_argument("--symbol", help="symbol when the path is not in the store layout")
    repair.add_argument("--interval", help="interval when the file name does not say it")
    repair.add_argument("--rest-url", help="REST base URL (config bybit.rest_url)")
    repair.set_defaults(handler=lazy(HANDLERS, "run_repair"))


def _series_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", required=True, help=INTERVAL_HELP)
    parser.add_argument("--category", choices=("linear", "spot", "inverse"),
                        help="market category (config bybit.category, default linear)")
    parser.add_argument("--store", help="store root (config bybit.store, default data/bybit)")
    parser.add_argument("--rest-url", help="REST base URL (config bybit.rest_url)")
