"""Issue 13.2 benchmark: a strategy with stateful series (Heikin-Ashi open, a reset counter, a
latch) against the same strategy with ordinary series in their place, on 1,000,000 synthetic
hourly bars, warm, in one run.

    .venv/bin/python bench/bench_stateful.py [--bars 1000000] [--repeat 5]

Both scripts compute the same number of columns with the same indicators; only the three
recursions differ (`x[1]` of the definition itself vs of an input). "signals" is the compiled
plan alone (Polars + the recursion VM); "backtest" is compile + plan + engine + metrics
(`pipeline.backtest`), what a `tradebot run` does after loading the data. Warm: best of
`--repeat` calls after a warm-up call, the four calls taken in turn (the VM is compiled once per installation, then cached).
Wall-clock and CPU time (this process, all its threads) are both printed: on a shared, loaded
machine the wall clock mostly measures the neighbours.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternated_best_of, synthetic_bars, table  # noqa: E402

from tradebot.pipeline import backtest, compile_source  # noqa: E402

COMMON = """strategy "Heikin-Ashi trend"
fee 0.05%
r = rsi(close, 14)
ha_close = ohlc4
"""
STATEFUL = COMMON + """ha_open = (ha_open[1] + ha_close[1]) / 2 starting (open + close) / 2
streak = if ha_close > ha_open then streak[1] + 1 else 0 starting 0
armed = if r < 30 then true else if r > 70 then false else armed[1] starting false
enter long when armed and streak >= 2
exit long when ha_close < ha_open
"""
PLAIN = COMMON + """ha_open = (open[1] + ha_close[1]) / 2
streak = if ha_close > ha_open then close[1] + 1 else 0
armed = if r < 30 then true else if r > 70 then false else r[1] < 50
enter long when armed and streak >= 2
exit long when ha_close < ha_open
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="stateful series vs ordinary series, same script shape")
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars)
    calls = {}
    for label, source in (("with recursions", STATEFUL), ("without", PLAIN)):
        strategy = compile_source(source, "bench.tbs")
        calls[f"{label} signals"] = lambda strategy=strategy: strategy.plan.evaluate(bars)
        calls[f"{label} backtest"] = lambda source=source: backtest(compile_source(source, "bench.tbs"), bars)
    best = alternated_best_of(calls, repeat=args.repeat)
    rows = [[label, *(1000 * value for part in ("signals", "backtest") for value in best[f"{label} {part}"])]
            for label in ("with recursions", "without")]
    rows.append(["ratio", *(a / b for a, b in zip(rows[0][1:], rows[1][1:]))])
    print(f"{args.bars:,} bars, best of {args.repeat} (ms; last row: with / without)")
    print(table(["script", "signals wall", "signals CPU", "backtest wall", "backtest CPU"], rows))


if __name__ == "__main__":
    main()
