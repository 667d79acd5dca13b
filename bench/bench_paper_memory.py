"""Issue 14 benchmark: the memory of a long paper-trading session.

    .venv/bin/python bench/bench_paper_memory.py [--bars 500000] [--history 500000]

Two measurements per script, each in a fresh process (resident memory is per process):
* "history": a session that has seen `--history` 1-minute bars (its warm-up, synthetic), then
  takes 200 live candles through `PaperSession.on_bar`: what a session holds after that many
  bars. Before the bounded window the session kept and evaluated every bar, so this is how a
  weeks-long session grew.
* "stream": a session warmed up on the script's own warm-up, then `--bars` candles one by one
  through `on_bar` (the path `tradebot paper --replay` runs), resident memory and CPU time
  sampled every `--every` bars: the CPU a bar of each stretch shows what grows with the
  session's age.

The fsync of the journal and of the output files is replaced by a flush here (6 ms a call on
this disk; it does not change memory); everything else is the live path. Run with PYTHONPATH pointing at another
checkout to measure that code (the figures in docs/benchmarks.md compare with the code before
the window). Linux: resident memory from /proc/self/status; elsewhere the peak (ru_maxrss).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import synthetic_bars, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("examples/sma_cross.tbs", "examples/rsi.tbs", "examples/rsi_risk.tbs")
MINUTE_MS = 60_000

def resident_mb() -> float:
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource  # POSIX: the peak, in kB on Linux

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def peak_mb() -> float:
    try:
        import resource
    except ImportError:  # Windows
        return float("nan")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def child(script: str, history: int, bars: int, every: int) -> dict[str, object]:
    """One session in this process; its memory figures."""
    import polars as pl

    from tradebot.live import journal
    from tradebot.live.feed import rows
    from tradebot.live.session import Identity, PaperSession
    from tradebot.pipeline import engine_nodes, load_strategy
    from tradebot.lang.lookback import lookback

    journal.os.fsync = lambda fd: None  # type: ignore[attr-defined]  # see the module docstring
    strategy = load_strategy(ROOT / script)
    warmup = history or lookback(engine_nodes(strategy.checked).values()).bars(MINUTE_MS)
    frame = synthetic_bars(warmup + bars)
    frame = frame.with_columns(timestamp=(pl.int_range(frame.height, dtype=pl.Int64) * MINUTE_MS
                                          + 1_700_000_000_000).cast(pl.Datetime("ms", "UTC")))
    all_rows = list(rows(frame))
    del frame
    base, samples = float("nan"), []
    with tempfile.TemporaryDirectory() as folder:
        identity = Identity.of(strategy, symbol="BENCH", category="replay", interval="1m",
                               interval_ms=MINUTE_MS)
        session = PaperSession(strategy, Path(folder), identity)
        import polars as pl  # noqa: F811

        session.start(pl.DataFrame(all_rows[:warmup], orient="row", schema=[
            "timestamp", "open", "high", "low", "close", "volume"]).with_columns(
            pl.col("timestamp").cast(pl.Datetime("ms", "UTC"))))
        began, cpu = time.perf_counter(), time.process_time()
        for i, row in enumerate(all_rows[warmup:], start=1):
            session.on_bar(row)
            if i == min(1_000, bars):  # the code is loaded and compiled: growth from here on
                base = resident_mb()
            if i % every == 0 or i == bars:
                samples.append((i, round(resident_mb() - base, 1), time.process_time() - cpu))
                print(f"{script}: {i:,} live bars, resident {resident_mb():.1f} MB, "
                      f"{time.process_time() - cpu:.0f} s CPU", file=sys.stderr, flush=True)
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu
        held = getattr(session.frame, "held", session.frame.size)
        session.close()
    # CPU a bar in each stretch of `every` bars: flat when nothing grows with the session's age
    stretches = [(n, round(1000 * (c - c0) / (n - n0), 2))
                 for (n0, _, c0), (n, _, c) in zip([(0, 0, 0.0), *samples], samples)]
    return {"script": script, "history": history, "bars": bars,
            "samples": [(n, mb) for n, mb, _ in samples], "stretches": stretches,
            "peak": round(peak_mb(), 1), "end": round(resident_mb(), 1), "held": held,
            "ms_per_bar": round(1000 * wall / bars, 2), "cpu_ms_per_bar": round(1000 * cpu / bars, 2)}

def run(script: str, history: int, bars: int, every: int) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", script, str(history), str(bars), str(every)],
                         stdout=subprocess.PIPE, text=True, check=True, env=os.environ)  # progress on stderr
    return json.loads(out.stdout.splitlines()[-1])

def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=500_000, help="candles streamed (0: skip)")
    parser.add_argument("--history", type=int, default=500_000, help="bars of history (0: skip)")
    parser.add_argument("--scripts", nargs="+", default=list(SCRIPTS))
    parser.add_argument("--every", type=int, default=100_000, help="bars between samples")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} at start" if hasattr(os, "getloadavg") else "")
    results = []
    for script in args.scripts:
        if args.history:
            results.append(run(script, args.history, 200, args.every))
        if args.bars:
            results.append(run(script, 0, args.bars, args.every))
    print(table(["script", "history", "live bars", "bars held", "resident MB at end",
                 "growth MB after the first 1k live bars", "peak MB", "ms a bar", "CPU ms a bar",
                 "CPU ms a bar by stretch"],
                [[r["script"], f"{r['history']:,}", f"{r['bars']:,}", f"{r['held']:,}", r["end"],
                  " ".join(f"{n // 1000}k: {mb:+}" for n, mb in r["samples"]),
                  r["peak"], r["ms_per_bar"], r["cpu_ms_per_bar"],
                  " ".join(f"{n // 1000}k: {ms}" for n, ms in r["stretches"])] for r in results]))
    if hasattr(os, "getloadavg"):
        print(f"load average {os.getloadavg()[0]:.2f} at end")

if __name__ == "__main__":
    main()
