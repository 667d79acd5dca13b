"""`tradebot paper`: run scripts on live candles (or a replayed file) as the backtest would trade
them, resumable after any crash; `paper status` and `paper verify` read a session's folder.

    tradebot paper a.tbs [b.tbs ...] --symbol BTCUSDT [ETHUSDT ...] --interval 1m
    tradebot paper a.tbs --replay data/bybit/linear/BTCUSDT/1m.csv
    tradebot paper status [SESSION ...]
    tradebot paper verify SESSION
    tradebot paper cancel SESSION ORDER

The same command started again resumes each session from its folder (default
sessions/<script>-<symbol>-<interval>).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from . import lazy

SESSIONS = Path("sessions")


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    paper = subparsers.add_parser(
        "paper", help="paper-trade scripts on the live stream (or --replay a file)",
        description="Run .tbs scripts on confirmed live candles with the backtest's own fills. "
                    "`paper status [SESSION]` and `paper verify SESSION` inspect a session; "
                    "`paper cancel SESSION ORDER` withdraws a standing entry order.")
    paper.add_argument("scripts", nargs="+", metavar="SCRIPT",
                       help=".tbs files (or `status [SESSION...]`, `verify SESSION`, `cancel SESSION ORDER`)")
    paper.add_argument("--symbol", dest="symbols", nargs="+", metavar="SYMBOL", default=[])
    paper.add_argument("--interval", help="bar interval, e.g. 1m, 5m, 1h")
    paper.add_argument("--category", choices=("linear", "spot", "inverse"),
                       help="market category (config bybit.category, default linear)")
    paper.add_argument("--replay", type=Path, metavar="FILE",
                       help="play a stored OHLCV file bar by bar instead of the live stream")
    paper.add_argument("--out", type=Path, metavar="DIR",
                       help="session folder (one script and symbol) or parent folder (several)")
    paper.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                       help="override a param's default (repeatable)")
    paper.add_argument("--store", help="store root (config bybit.store, default data/bybit)")
    paper.add_argument("--rest-url", help="REST base URL (config bybit.rest_url)")
    paper.add_argument("--ws-url", help="stream base URL (config bybit.ws_url)")
    paper.add_argument("--duration", type=float, help="stop after this many seconds")
    paper.set_defaults(handler=lazy("tradebot.cli.paper_handlers", "run_paper"))
