"""Issue 16 benchmark: the HTML report of a 1,000,000-bar backtest — file size and how soon the
page is usable in headless Chromium (no GPU, network cut).

    .venv/bin/python bench/bench_report.py [--bars 1000000] [--repeat 3] [--keep DIR]

Writes synthetic hourly bars, runs `tradebot run examples/rsi.tbs --data BARS --report FILE` (the
real command: RSI series `r` in its own pane, ~tens of thousands of trades), then opens the file
with Debian's chromium through Playwright, as tests/report/browser.py does:
- "ready": from navigation start to the Overview's equity and drawdown painted (`tradebot.ready`,
  two animation frames after the charts were set up), median of --repeat fresh pages;
- "chart tab": switching to the Chart tab (candles, series, markers) until painted;
- "trade zoom": clicking a trade in the table until the zoomed chart is painted;
- "zoom out": back to the whole history until painted.
Not part of the test suite: timings belong here, not in assertions.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "report"))
from browser import chromium_path, launched, open_offline  # noqa: E402
from common import synthetic_bars, table, write_csv  # noqa: E402

from tradebot.cli import main as tradebot  # noqa: E402

PAINTED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now()))))"


def timed_js(page, action: str) -> float:
    """Seconds from running `action` in the page to the next painted frame."""
    start = page.evaluate(f"() => {{ const t = performance.now(); {action}; return t; }}")
    return (page.evaluate(PAINTED) - start) / 1000


def measure(browser, path: Path) -> dict[str, float]:
    page, visit = open_offline(browser, path, timeout_ms=120_000)
    assert not visit.errors and not visit.requests, (visit.errors, visit.requests)
    out = {"ready": page.evaluate("window.tradebot.readyAt") / 1000,
           "heap_mb": page.evaluate("performance.memory.usedJSHeapSize") / 2**20}  # after load
    out["chart tab"] = timed_js(page, "window.tradebot.showTab('Chart')")
    trades = page.evaluate("window.tradebot.model.trades.length")
    out["trade zoom"] = timed_js(page, f"window.tradebot.backtest.showTrade({trades // 2})")
    out["zoom out"] = timed_js(page, "window.tradebot.charts.price.dispatchAction({type: 'dataZoom', start: 0, end: 100})")
    out["candles drawn"] = page.evaluate("window.tradebot.charts.price.getOption().series[0].data.length")
    page.context.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the bars and the report here instead of a temp folder")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        bars = write_csv(synthetic_bars(args.bars), folder / "bars.csv")
        report = folder / "report.html"
        start = time.perf_counter()
        assert tradebot(["run", str(ROOT / "examples" / "rsi.tbs"), "--data", str(bars), "--report", str(report),
                         "--trades", "0"]) == 0
        run_seconds = time.perf_counter() - start
        size_mb = report.stat().st_size / 1e6
        with sync_playwright() as playwright, launched(playwright, chromium_path(),
                                                          extra_args=("--enable-precise-memory-info",)) as browser:
            runs = [measure(browser, report) for _ in range(args.repeat)]
    load = os.getloadavg()
    keys = ["ready", "chart tab", "trade zoom", "zoom out", "heap_mb", "candles drawn"]
    rows = [[key, *(f"{r[key]:.2f}" for r in runs), f"{statistics.median(r[key] for r in runs):.2f}"] for key in keys]
    print(f"{args.bars:,} bars: report file {size_mb:.1f} MB; `tradebot run --report` {run_seconds:.1f} s "
          f"(backtest, series and the file); load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
          f"on {os.cpu_count()} cores")
    print(table(["seconds (heap MB, candles)", *(f"run {i + 1}" for i in range(len(runs))), "median"], rows))


if __name__ == "__main__":
    main()
