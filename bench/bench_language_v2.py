"""Issue 13 benchmark: the language-v2 builtins on 1M synthetic hourly bars: series-valued
windows against the same windows with a constant length, the calendar and session builtins, and
the Pine family (rma, alma, tsi, dmi, median, variance, correlation, pivots, heikinashi, ichimoku).

    .venv/bin/python bench/bench_language_v2.py [--bars 1000000] [--repeat 5]

Each row: the compiled Polars plan of `x = <expression>` evaluated on bars in memory, warm (the
plan compiled and the numba kernels loaded before timing), best of --repeat. Not part of the
test suite.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, synthetic_bars, table  # noqa: E402

from tradebot.pipeline import compile_source  # noqa: E402

EXPRESSIONS = (
    "highest(high, 20)",
    "highest(high, bar_index % 20 + 1)",
    "highest(high, barssince(close crosses above sma(close, 50)) + 1)",
    "sma(close, 20)",
    "sma(close, bar_index % 20 + 1)",
    "stdev(close, bar_index % 20 + 1)",
    "hour",
    'hour("America/New_York")',
    'in_session("09:30-16:00", "America/New_York")',
    'vwap(hlc3, "09:30-16:00", "America/New_York")',
    "bar_index % 7",
    "rma(close, 14)", "alma(close, 9)", "tsi(close, 13, 25)", "dmi(14).adx", "median(close, 21)",
    "variance(close, 20)", "correlation(close, volume, 20)", "pivothigh(high, 5, 5)",
    "heikinashi().open", "ichimoku().span_b",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars)
    rows = []
    for expression in EXPRESSIONS:
        plan = compile_source(f"x = {expression}\n", "bench.tbs", series=["x"]).plan
        plan.evaluate(bars)  # compile / load the kernels
        seconds = best_of(lambda: plan.evaluate(bars), repeat=args.repeat)
        rows.append([expression, f"{seconds * 1000:.1f} ms"])
    print(table(["expression", f"{args.bars:,} bars"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
