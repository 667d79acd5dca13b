"""Issue 15 benchmark: a 20-symbol × 100k-bar portfolio with one pool of cash, through tradebot's
portfolio engine and through vectorbt's cash-sharing `Portfolio.from_signals` (`group_by=True`,
`cash_sharing=True`, `call_seq="auto"`), side by side in one run.

    .venv/bin/python bench/bench_portfolio.py            # needs vectorbt (the test extras)

Both get the same prices and the same precomputed entry/exit signals (an SMA cross per symbol),
long entries of 2,000 cash each (vectorbt `size_type="value"`; its percent sizing is of the cash
left, not of the equity), a 0.05 % fee, and compute the trades and the final equity. Time: best of 3 after a warm-up call,
from arrays in memory to trades + equity. Memory: the peak resident size a fresh process adds
while it runs once (after a warm-up on 1,000 bars has compiled everything and the inputs are
built).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

SYMBOLS, BARS = 20, 100_000

SETUP = textwrap.dedent(f"""
    import sys, resource, time, warnings
    import numpy as np
    sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
    from common import synthetic_bars
    frames = [synthetic_bars({BARS}, seed=seed) for seed in range({SYMBOLS})]
    prices = {{name: np.column_stack([f[name].to_numpy() for f in frames])
              for name in ("open", "high", "low", "close")}}
    def sma(x, w):
        c = np.cumsum(x, axis=0); out = np.full_like(x, np.nan); out[w - 1:] = c[w - 1:]
        out[w:] -= c[:-w]; return out / w
    fast, slow = sma(prices["close"], 10), sma(prices["close"], 30)
    above = fast > slow
    enter = above & ~np.vstack([above[:1], above[:-1]])
    leave = ~above & np.vstack([above[:1], above[:-1]])
    timestamps = frames[0]["timestamp"]
""")

TRADEBOT = textwrap.dedent("""
    from tradebot.runtime import ExecutionConfig, Signals
    from tradebot.runtime.execution import Sizing
    from tradebot.runtime.portfolio import PortfolioBars, run_portfolio
    no = np.zeros(len(timestamps), dtype=bool)
    config = ExecutionConfig(10_000.0, 0.0005, 0.0, sizing=Sizing("cash", 2_000.0))
    def run(k):
        bars = PortfolioBars(timestamps[:k], tuple(f"S{j:02d}" for j in range(enter.shape[1])),
                             {n: p[:k] for n, p in prices.items()})
        signals = [Signals(enter[:k, j], leave[:k, j], no[:k], no[:k]) for j in range(enter.shape[1])]
        r = run_portfolio(bars, signals, np.zeros((k, enter.shape[1])), config, enter.shape[1])
        return r.trades.height, r.equity["equity"][-1]
""")

VECTORBT = textwrap.dedent("""
    import pandas as pd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import vectorbt as vbt
    def run(k):
        frame = lambda a: pd.DataFrame(a[:k])
        shift = lambda a: frame(np.vstack([np.zeros((1, a.shape[1]), bool), a[:-1]]))  # next open
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pf = vbt.Portfolio.from_signals(frame(prices["close"]), entries=shift(enter[:k]),
                                            exits=shift(leave[:k]), price=frame(prices["open"]),
                                            size=2_000.0, size_type="value", fees=0.0005,
                                            init_cash=10_000.0, group_by=True, cash_sharing=True,
                                            call_seq="auto", freq="1h")
            return pf.trades.count(), pf.final_value()
""")

MEASURE = textwrap.dedent(f"""
    run(1000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter(); run({BARS}); first = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    times = []
    for _ in range(3):
        start = time.perf_counter(); result = run({BARS}); times.append(time.perf_counter() - start)
    print(__import__("json").dumps({{"seconds": min(times), "peak_mb": peak / 1024,
                                     "trades": int(np.sum(result[0])), "final": float(result[1])}}))
""")


def measure(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SETUP + code + MEASURE], check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ours, theirs = measure(TRADEBOT), measure(VECTORBT)
    print(f"{SYMBOLS} symbols x {BARS:,} bars, load average {os.getloadavg()[0]:.2f}")
    print("| engine | seconds (best of 3) | peak memory added (MB) | trades | final equity |")
    print("|---|---|---|---|---|")
    for name, row in (("tradebot", ours), ("vectorbt", theirs)):
        print(f"| {name} | {row['seconds']:.3f} | {row['peak_mb']:.0f} | {row['trades']:,} | "
              f"{row['final']:,.2f} |")
    print(f"tradebot / vectorbt time: {ours['seconds'] / theirs['seconds']:.2f}x")


if __name__ == "__main__":
    main()
