"""`tradebot ui`: the local web dashboard (tradebot/dashboard/, docs/dashboard.md)."""
from __future__ import annotations

import argparse

from . import lazy


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    ui = subparsers.add_parser("ui", help="serve the local web dashboard (http://127.0.0.1:8765)",
                               description="Serve the dashboard: the store's series, the project's "
                                           "scripts, sweeps, paper sessions and the jobs started from it.")
    ui.add_argument("--host", help="address to bind (config ui.host, default 127.0.0.1); any other "
                                   "address requires a token")
    ui.add_argument("--port", type=int, help="port (config ui.port, default 8765; 0 picks a free one)")
    ui.add_argument("--token", help="the token every request must carry (config ui.token; generated "
                                    "when another address than 127.0.0.1 is bound)")
    ui.add_argument("--open", action="store_true", help="open the dashboard in the default browser")
    ui.set_defaults(handler=lazy("tradebot.dashboard.command", "serve"))
