"""Fixtures of the dashboard tests: a small project folder, a dashboard serving it from a thread
(port 0: a free port), the fake Bybit (tests/data/fake_bybit.py) the jobs fetch from, and a real
browser (the report tests' harness; `browser` is an oracle fixture of tests/oracle_guard.py, so
under CI=true a missing chromium fails these tests instead of skipping them)."""
from __future__ import annotations

import asyncio
import sys
import threading
from pathlib import Path
from typing import Iterator

import pytest
import requests

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "data"), str(HERE.parent / "report")]

from browser import real_browser  # noqa: E402
from bybit_testkit import FakeThread, market_config  # noqa: E402
from dashkit import FAST_ENV, Served, make_project  # noqa: E402

from tradebot.dashboard.server import DASHBOARD, make_app  # noqa: E402
from tradebot.dashboard.settings import DashboardSettings  # noqa: E402


@pytest.fixture
def serve() -> Iterator:
    """`serve(settings)` starts a dashboard and returns a Served; all are stopped at the end."""
    running: list[tuple[asyncio.AbstractEventLoop, threading.Thread, object]] = []

    def start(settings: DashboardSettings) -> Served:
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        from aiohttp import web

        async def up():
            app = make_app(settings)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, settings.host, 0).start()
            port = runner.addresses[0][1]
            app[DASHBOARD].guard.listening(port)
            return runner, port

        runner, port = asyncio.run_coroutine_threadsafe(up(), loop).result(30)
        running.append((loop, thread, runner))
        return Served(f"http://{settings.host}:{port}", runner.app[DASHBOARD], requests.Session())

    yield start
    for loop, thread, runner in running:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj")


@pytest.fixture
def fake_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """The fake exchange, with the environment jobs inherit pointing at it. Its clock runs 60 times
    faster than real time, so a streamed 1m candle closes every second."""
    with FakeThread(market_config(speed=60.0)) as fake:
        monkeypatch.setenv("TRADEBOT_BYBIT_REST_URL", fake.rest_url)
        monkeypatch.setenv("TRADEBOT_BYBIT_WS_URL", fake.ws_url)
        for name, value in FAST_ENV.items():
            monkeypatch.setenv(name, value)
        yield fake


@pytest.fixture(scope="module")
def browser():
    yield from real_browser()
