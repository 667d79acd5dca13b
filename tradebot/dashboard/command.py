"""Serving the dashboard from the command line: settings, the printed URL, the event loop."""
from __future__ import annotations

import argparse
import asyncio
import sys
import webbrowser
from dataclasses import replace

from aiohttp import web

from ..config import Config
from ..errors import UsageError
from .security import new_token
from .server import DASHBOARD, make_app
from .settings import DashboardSettings, load_settings, token_required


def serve(args: argparse.Namespace, config: Config) -> int:
    settings = load_settings(config, host=args.host, port=args.port, token=args.token)
    if settings.token is None and token_required(settings.host):
        settings = replace(settings, token=new_token())  # printed in the login link below
    try:
        asyncio.run(_serve(settings, opened=args.open))
    except KeyboardInterrupt:
        print("dashboard stopped; jobs keep running (`tradebot ui` again shows them)", file=sys.stderr)
    return 0


async def _serve(settings: DashboardSettings, *, opened: bool) -> None:
    runner = web.AppRunner(make_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise UsageError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc} "
                         "(another program uses the port? try --port)") from None
    port = runner.addresses[0][1] if settings.port == 0 else settings.port
    runner.app[DASHBOARD].guard.listening(port)
    url = _url(settings, port)
    print(f"dashboard: {url}", flush=True)
    print(f"project: {settings.project}  store: {settings.store}", flush=True)
    if opened:
        webbrowser.open(url)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _url(settings: DashboardSettings, port: int) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    url = f"http://{host}:{port}/"
    return f"{url}?token={settings.token}" if settings.token else url
