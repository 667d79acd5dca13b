"""`tradebot repl [--data FILE] [SCRIPT.tbs]`: the interactive prompt (tradebot/repl/, docs/repl.md)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import Config


def add_commands(subparsers: Any) -> None:
    repl = subparsers.add_parser(
        "repl", help="explore data and build a strategy interactively",
        description="An interactive .tbs prompt: evaluate expressions on data, define series and "
                    "rules, backtest them. Type :help inside for the commands.")
    repl.add_argument("script", nargs="?", type=Path, help="a .tbs script to start from")
    repl.add_argument("--data", metavar="FILE", help="OHLCV CSV to work on (default: the script's "
                      "`data`, else [run] data in tradebot.toml, else the bundled EUR/USD hourly bars)")
    repl.add_argument("--history", type=Path, metavar="FILE",
                      help="where to keep the input history (default: the user's data folder; "
                           "config [repl] history)")
    repl.set_defaults(handler=repl_command)


def repl_command(args: argparse.Namespace, config: Config) -> int:
    # Imported here: prompt_toolkit is only needed by this command.
    from ..repl.app import main
    from ..repl.controller import Repl

    repl = Repl(config=config, data=args.data)
    if args.script is not None:
        print(repl.handle(f":load {args.script}").text)
    history = args.history or config.get("repl", "history")
    return main(repl, history_path=Path(history) if history else None)
