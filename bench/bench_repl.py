"""Issue 7 benchmark: how fast the REPL answers an expression on 1,000,000 bars.

    .venv/bin/python bench/bench_repl.py [--bars 1000000] [--repeat 5]

Each line is typed into a `Repl` (the object behind `tradebot repl`, without the terminal) holding
1M synthetic hourly bars: parse, check, compile, evaluate on every bar, format the last 10 rows.
"first" is the first answer to that line in the session (the very first line also pays for
Polars starting its thread pool and numba loading its cached kernels); "warm" the best of --repeat
answers after it. The figure a user feels is this plus the terminal's drawing, which is negligible.
Not part of the test suite: timings belong here, not in assertions.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, synthetic_bars, table  # noqa: E402

from tradebot.config import Config  # noqa: E402
from tradebot.repl.controller import Repl  # noqa: E402

SESSION = ("param n = 14 in 5..30", "r = rsi(close, n)", "def band(src, k) = sma(src, 20) + k * stdev(src, 20)")
LINES = (
    "rsi(close, 14)",
    "r > 50 and close > sma(close, 200)",
    "atr(14) / sma(atr(14), 100)",
    "close < band(close, -2)",
    "bbands(close, 20, 2)",
    "macd(close).hist crosses above 0 within 5 bars",
    "rsi(close, 14) @ 4h",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    repl = Repl(config=Config(), bars=synthetic_bars(args.bars), width=lambda: 100)
    for line in SESSION:
        repl.handle(line)
    rows = []
    for line in LINES:
        start = time.perf_counter()
        reply = repl.handle(line)
        first = time.perf_counter() - start
        if not reply.text.startswith("time (UTC)"):
            raise SystemExit(f"`{line}` did not print a table: {reply.text}")
        warm = best_of(lambda: repl.handle(line), repeat=args.repeat, warmup=0)
        rows.append([f"`{line}`", first * 1000, warm * 1000])
    print(f"REPL answers on {args.bars:,} bars, in the order typed (first answer; warm: best of {args.repeat}):\n")
    print(table(["typed", "first ms", "warm ms"], rows))


if __name__ == "__main__":
    main()
