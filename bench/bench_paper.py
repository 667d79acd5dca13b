"""Issue 14 benchmark: paper trading's latency from a candle's confirm to the decision.

    .venv/bin/python bench/bench_paper.py [--history 100000] [--bars 300]

A session of each script starts with --history 1-minute bars (synthetic) as its warm-up, then
takes --bars confirmed candles one by one through `PaperSession.on_bar`, the path the live
command runs. "decision" is from the candle's arrival to the kernel's fills and orders for it
(the frame handed to the compiled plan, the plan on every bar of the session, the kernel step);
"on_bar" adds the journal's fsync'ed record and, on bars where a trade closed or every 60 bars,
rewriting trades.csv, equity.csv and result.json. Target: decision p99 <= 50 ms at 100k bars.
Not part of the test suite: timings belong here, not in assertions.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import synthetic_bars, table  # noqa: E402

from tradebot.live.feed import rows  # noqa: E402
from tradebot.live.session import Identity, PaperSession  # noqa: E402
from tradebot.pipeline import load_strategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("examples/sma_cross.tbs", "examples/rsi.tbs", "examples/rsi_risk.tbs")
MINUTE_MS = 60_000


def measure(script: str, history: int, bars: int) -> list[object]:
    strategy = load_strategy(ROOT / script)
    frame = synthetic_bars(history + bars)
    start_ms = int(frame["timestamp"].dt.epoch("ms")[0])
    # The synthetic bars are hourly; re-stamp them as consecutive minutes.
    all_rows = [(start_ms + i * MINUTE_MS, *row[1:]) for i, row in enumerate(rows(frame))]
    with tempfile.TemporaryDirectory() as folder:
        identity = Identity.of(strategy, symbol="BENCH", category="replay", interval="1m",
                               interval_ms=MINUTE_MS)
        session = PaperSession(strategy, Path(folder), identity)
        history_frame = frame.head(history).with_columns(
            timestamp=(frame["timestamp"].head(history).dt.epoch("ms") * 0 + np.arange(history) * MINUTE_MS
                       + start_ms).cast(frame["timestamp"].dtype))
        session.start(history_frame)
        decided: list[float] = []
        submit = session.broker.submit

        def timed(intent):  # the decision is made once the kernel has stepped
            outcome = submit(intent)
            decided.append(time.perf_counter())
            return outcome

        session.broker.submit = timed  # type: ignore[method-assign]
        decision, whole = [], []
        for row in all_rows[history:]:
            began = time.perf_counter()
            session.on_bar(row)
            whole.append(time.perf_counter() - began)
            decision.append(decided[-1] - began)
        session.close()
    ms = lambda values, q: f"{np.percentile(values, q) * 1000:.1f}"  # noqa: E731
    return [script, f"{history:,}", bars, ms(decision, 50), ms(decision, 99), ms(whole, 50), ms(whole, 99)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--bars", type=int, default=300)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start" if hasattr(os, "getloadavg") else "")
    results = [measure(script, args.history, args.bars) for script in SCRIPTS]
    print(table(["script", "history", "bars", "decision p50 ms", "decision p99 ms",
                 "on_bar p50 ms", "on_bar p99 ms"], results))
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
