"""Real-browser harness for the report tests and the benchmark: Python Playwright driving the
system's chromium (Debian's package; never a downloaded browser), with the network cut.

Every request the page makes is aborted and recorded: a self-contained report makes none, so
`requests` must stay empty. Console errors and uncaught exceptions are recorded too.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    for path in (os.environ.get("TRADEBOT_CHROMIUM"), *CHROMIUM_CANDIDATES, shutil.which("chromium")):
        if path and Path(path).is_file():
            return path
    return None


@dataclass
class Visit:
    """What a page did while it was open."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def launched(playwright, executable: str, *, extra_args: tuple[str, ...] = ()) -> Iterator[object]:
    browser = playwright.chromium.launch(executable_path=executable, args=[*CHROMIUM_ARGS, *extra_args],
                                         headless=True)
    try:
        yield browser
    finally:
        browser.close()


def real_browser() -> Iterator[object]:
    """The body of the `browser` fixtures (report and dashboard tests): a launched chromium, or a
    skip naming what is missing (under CI=true tests/oracle_guard.py turns that skip into a failure)."""
    import pytest

    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        pytest.skip("the browser tests need chromium (apt-get install chromium) and the playwright package")
    with sync_playwright() as playwright, launched(playwright, executable) as launched_browser:
        yield launched_browser


def open_offline(browser, path: Path, *, width: int = 1400, height: int = 900, timeout_ms: int = 60_000):
    """A new page with the network cut, `path` loaded and its charts ready; returns (page, visit)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    visit = Visit()

    def refuse(route) -> None:
        url = route.request.url
        if url != path.resolve().as_uri():  # the document itself is read from disk, not the network
            visit.requests.append(url)
            route.abort()
        else:
            route.continue_()

    context.route("**/*", refuse)
    page = context.new_page()
    page.on("console", lambda msg: visit.errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: visit.errors.append(str(exc)))
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    try:
        page.wait_for_function("window.tradebot && window.tradebot.ready", timeout=timeout_ms)
    except Exception as exc:  # the page's own errors say more than "timeout"
        raise AssertionError(f"the report never got ready: {visit.errors or exc}") from None
    return page, visit
