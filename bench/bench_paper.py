"""Issue 14 benchmark: paper trading's latency from a candle's confirm to the decision.

    .venv/bin/python bench/bench_paper.py [--history 100000] [--bars 300]

A session of each script starts with --history 1-minute bars (synthetic) as its warm-up, then
takes --bars confirmed candles one by one through `PaperSession.on_bar`, the path the live
command runs. "decision" is from the candle's arrival to the kernel's fills and orders for it
(the frame handed to the compiled plan, the plan on the bars the session holds, the kernel step),
in wall time and in the process's CPU time (all threads: Polars' pool included), which a busy
machine disturbs far less; a second table splits it into stages, with the GC's pauses;
"on_bar" adds the journal's fsync'ed record, the bar's rows appended (fsync'ed) to equity.csv and
trades.csv and, on bars where a trade closed or every 60 bars, rewriting result.json. Target: decision p99 <= 50 ms at 100k bars.
Not part of the test suite: timings belong here, not in assertions.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import synthetic_bars, table  # noqa: E402

from tradebot.live.feed import rows  # noqa: E402
from tradebot.live.session import Identity, PaperSession  # noqa: E402
from tradebot.pipeline import load_strategy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("examples/sma_cross.tbs", "examples/rsi.tbs", "examples/rsi_risk.tbs")
MINUTE_MS = 60_000


class Stages:
    """Wall time of each stage of a decision, by wrapping the session's own calls: the frame
    handed to the plan, the plan, the kernel step; and the garbage collector's pauses."""

    def __init__(self, session: PaperSession) -> None:
        self.times: dict[str, list[float]] = {"frame": [], "plan": [], "step": [], "gc": []}
        self._gc_started = 0.0
        self._wrap(session.frame, "polars", "frame")
        self._wrap(session.strategy.plan, "evaluate", "plan")
        self._wrap(session.broker, "submit", "step")
        gc.callbacks.append(self._gc)

    def _wrap(self, owner: object, name: str, stage: str) -> None:
        inner = getattr(owner, name)

        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                self.times[stage].append(time.perf_counter() - began)
        object.__setattr__(owner, name, timed)  # Plan is a frozen dataclass

    def _gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.times["gc"].append(time.perf_counter() - self._gc_started)

    def close(self) -> None:
        gc.callbacks.remove(self._gc)


def measure(script: str, history: int, bars: int) -> tuple[list[object], list[object]]:
    strategy = load_strategy(ROOT / script)
    frame = synthetic_bars(history + bars)
    frame = frame.with_columns(timestamp=(pl.int_range(frame.height, dtype=pl.Int64) * MINUTE_MS
                                          + 1_700_000_000_000).cast(pl.Datetime("ms", "UTC")))
    all_rows = list(rows(frame))
    with tempfile.TemporaryDirectory() as folder:
        identity = Identity.of(strategy, symbol="BENCH", category="replay", interval="1m",
                               interval_ms=MINUTE_MS)
        session = PaperSession(strategy, Path(folder), identity)
        session.start(frame.head(history))
        stages = Stages(session)
        decided: list[tuple[float, float]] = []
        submit = session.broker.submit

        def timed(intent):  # the decision is made once the kernel has stepped
            outcome = submit(intent)
            decided.append((time.perf_counter(), time.process_time()))
            return outcome

        session.broker.submit = timed  # type: ignore[method-assign]
        decision, cpu, whole = [], [], []
        for row in all_rows[history:]:
            began, began_cpu = time.perf_counter(), time.process_time()
            session.on_bar(row)
            whole.append(time.perf_counter() - began)
            decision.append(decided[-1][0] - began)
            cpu.append(decided[-1][1] - began_cpu)
        stages.close()
        held = getattr(session.frame, "held", session.frame.size)
        session.close()
    figures = [script, f"{history:,}", bars, f"{held:,}", ms(decision, 50), ms(decision, 99),
               ms(cpu, 50), ms(cpu, 99), ms(whole, 50), ms(whole, 99)]
    per_stage = [script] + [f"{ms(v, 50)} / {ms(v, 99)}" for k, v in stages.times.items() if k != "gc"] + \
        [f"{len(stages.times['gc'])}, max {ms(stages.times['gc'], 100)}"]
    return figures, per_stage


def ms(values: list[float], q: float) -> str:
    return f"{np.percentile(values, q) * 1000:.1f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--bars", type=int, default=300)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start" if hasattr(os, "getloadavg") else "")
    results = [measure(script, args.history, args.bars) for script in SCRIPTS]
    print(table(["script", "history", "bars", "bars held", "decision p50 ms", "decision p99 ms",
                 "decision CPU p50 ms", "decision CPU p99 ms", "on_bar p50 ms", "on_bar p99 ms"],
                [figures for figures, _ in results]))
    print(table(["script", "frame p50 / p99 ms", "plan p50 / p99 ms", "kernel step p50 / p99 ms",
                 "GC pauses, longest ms"], [stages for _, stages in results]))
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} at end")


if __name__ == "__main__":
    main()
