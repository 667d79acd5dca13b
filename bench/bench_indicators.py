"""Issue 3 benchmark: every indicator on 1M synthetic bars, tradebot vs TA-Lib, in one run.

    .venv/bin/python bench/bench_indicators.py [--bars 1000000] [--repeat 5] [--passes 3]
                                               [--clock cpu] [--only TEXT ...]

tradebot: the compiled Polars plan of `x = <expression>` evaluated on bars in memory (warm: the
plan is compiled and the numba kernels are loaded before timing; best of --repeat calls). The
plan computes `x` alone, not the four signal columns (constant false without rules, 0.1 ms a
call) that a script's plan adds for the engine.
TA-Lib: the equivalent function on the same bars' columns as numpy arrays, views of the same
memory (best of --repeat). The two sides' calls alternate (one of tradebot's, then one of TA-Lib's, --repeat
times): a call's cost depends on what the allocator kept from the call before it (whether its
result comes back as fresh pages to fault in), so all of one side's repeats in a row would favour
whichever side the heap happens to suit. An indicator TA-Lib lacks is timed against the TA-Lib functions that compose it
(noted in the table), and supertrend, which has no TA-Lib counterpart, is shown without a ratio.
The ratio is tradebot / TA-Lib; the geometric mean is over every row with a ratio.
The whole table is timed --passes times and each row keeps its best (either side's) over them:
this VM has slow phases of a few seconds in which every process computes 1.3-2x slower, longer
than one row's calls, so in a single pass such a phase inflates whichever rows it lands on
(docs/benchmarks.md, Indicators, "Eighth round"), while the passes spread each row's calls over
the run.
With `--clock cpu` both sides are timed in CPU seconds of the whole process (every thread:
Polars runs the kernels on its workers) instead of wall seconds. On a machine shared with other
work, wall time also counts the waits for a core, and those grow with the number of thread
hand-overs (Polars' plan has several, a TA-Lib call none), so wall-time ratios measured under load
say more about the load than about the code; CPU time moves far less (adx 11.5-11.7 ms at a load
average of 11, against 27-40 ms of wall time; 11.9 ms wall on a quiet machine), though the steps
bound by memory still slow down when other work loads the memory bus.
Not part of the test suite.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl
import talib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternated_best_of, synthetic_bars, table  # noqa: E402

from tradebot.lang.compiler import Plan, compile_program  # noqa: E402
from tradebot.pipeline import compile_source  # noqa: E402

Arrays = dict[str, np.ndarray]


def _hma(b: Arrays) -> np.ndarray:
    c = b["close"]
    return talib.WMA(2 * talib.WMA(c, 10) - talib.WMA(c, 20), 4)


def _keltner(b: Arrays) -> np.ndarray:
    return talib.EMA(b["close"], 20) + 2 * talib.ATR(b["high"], b["low"], b["close"], 10)


def _cmf(b: Arrays) -> np.ndarray:
    h, l, c, v = b["high"], b["low"], b["close"], b["volume"]
    flow = np.where(h > l, ((c - l) - (h - c)) / np.where(h > l, h - l, 1.0) * v, 0.0)
    return talib.SUM(flow, 20) / talib.SUM(v, 20)


# (tradebot expression, TA-Lib equivalent or None, what the TA-Lib side is when not one function)
CASES: list[tuple[str, Callable[[Arrays], object] | None, str]] = [
    ("sma(close, 20)", lambda b: talib.SMA(b["close"], 20), ""),
    ("ema(close, 20)", lambda b: talib.EMA(b["close"], 20), ""),
    ("wma(close, 20)", lambda b: talib.WMA(b["close"], 20), ""),
    ("dema(close, 20)", lambda b: talib.DEMA(b["close"], 20), ""),
    ("tema(close, 20)", lambda b: talib.TEMA(b["close"], 20), ""),
    ("trima(close, 20)", lambda b: talib.TRIMA(b["close"], 20), ""),
    ("kama(close, 30)", lambda b: talib.KAMA(b["close"], 30), ""),
    ("hma(close, 20)", _hma, "3 WMA"),
    ("vwma(close, 20)", lambda b: talib.SUM(b["close"] * b["volume"], 20) / talib.SUM(b["volume"], 20),
     "SUM / SUM"),
    ("t3(close, 5, 0.7)", lambda b: talib.T3(b["close"], 5, 0.7), ""),
    ("sar(0.02, 0.2)", lambda b: talib.SAR(b["high"], b["low"], 0.02, 0.2), ""),
    ("supertrend(3, 10).line", None, "no TA-Lib counterpart"),
    ("linreg(close, 14).value", lambda b: talib.LINEARREG(b["close"], 14), ""),
    ("linreg(close, 14).slope", lambda b: talib.LINEARREG_SLOPE(b["close"], 14), ""),
    ("rsi(close, 14)", lambda b: talib.RSI(b["close"], 14), ""),
    ("macd(close, 12, 26, 9).hist", lambda b: talib.MACD(b["close"], 12, 26, 9), ""),
    ("stoch(14, 3, 3).d", lambda b: talib.STOCH(b["high"], b["low"], b["close"], 14, 3, 0, 3, 0), ""),
    ("stochrsi(close, 14, 14, 3).d", lambda b: talib.STOCHRSI(b["close"], 14, 14, 3, 0), ""),
    ("cci(20)", lambda b: talib.CCI(b["high"], b["low"], b["close"], 20), ""),
    ("roc(close, 10)", lambda b: talib.ROC(b["close"], 10), ""),
    ("mom(close, 10)", lambda b: talib.MOM(b["close"], 10), ""),
    ("willr(14)", lambda b: talib.WILLR(b["high"], b["low"], b["close"], 14), ""),
    ("mfi(14)", lambda b: talib.MFI(b["high"], b["low"], b["close"], b["volume"], 14), ""),
    ("adx(14)", lambda b: talib.ADX(b["high"], b["low"], b["close"], 14), ""),
    ("plus_di(14)", lambda b: talib.PLUS_DI(b["high"], b["low"], b["close"], 14), ""),
    ("minus_di(14)", lambda b: talib.MINUS_DI(b["high"], b["low"], b["close"], 14), ""),
    ("aroon(14).up", lambda b: talib.AROON(b["high"], b["low"], 14), ""),
    ("aroonosc(14)", lambda b: talib.AROONOSC(b["high"], b["low"], 14), ""),
    ("trix(close, 30)", lambda b: talib.TRIX(b["close"], 30), ""),
    ("ultosc(7, 14, 28)", lambda b: talib.ULTOSC(b["high"], b["low"], b["close"], 7, 14, 28), ""),
    ("cmo(close, 14)", lambda b: talib.CMO(b["close"], 14), ""),
    ("apo(close, 12, 26)", lambda b: talib.APO(b["close"], 12, 26, 1), ""),
    ("ppo(close, 12, 26)", lambda b: talib.PPO(b["close"], 12, 26, 1), ""),
    ("bop()", lambda b: talib.BOP(b["open"], b["high"], b["low"], b["close"]), ""),
    ("atr(14)", lambda b: talib.ATR(b["high"], b["low"], b["close"], 14), ""),
    ("natr(14)", lambda b: talib.NATR(b["high"], b["low"], b["close"], 14), ""),
    ("tr()", lambda b: talib.TRANGE(b["high"], b["low"], b["close"]), ""),
    ("stdev(close, 20)", lambda b: talib.STDDEV(b["close"], 20, 1.0), ""),
    ("bbands(close, 20, 2).upper", lambda b: talib.BBANDS(b["close"], 20, 2, 2, 0), ""),
    ("keltner(20, 2, 10).upper", _keltner, "EMA + ATR"),
    ("donchian(20).middle", lambda b: (talib.MAX(b["high"], 20) + talib.MIN(b["low"], 20)) / 2,
     "MAX + MIN"),
    ("obv(close)", lambda b: talib.OBV(b["close"], b["volume"]), ""),
    ("ad()", lambda b: talib.AD(b["high"], b["low"], b["close"], b["volume"]), ""),
    ("adosc(3, 10)", lambda b: talib.ADOSC(b["high"], b["low"], b["close"], b["volume"], 3, 10), ""),
    ("cmf(20)", _cmf, "SUM / SUM"),
    ("vwap_rolling(20, hlc3)", lambda b: talib.SUM(talib.TYPPRICE(b["high"], b["low"], b["close"])
                                                   * b["volume"], 20) / talib.SUM(b["volume"], 20),
     "TYPPRICE, SUM / SUM"),
    ("highest(high, 20)", lambda b: talib.MAX(b["high"], 20), ""),
    ("lowest(low, 20)", lambda b: talib.MIN(b["low"], 20), ""),
    ("sum(volume, 20)", lambda b: talib.SUM(b["volume"], 20), ""),
    ("highestbars(high, 20)", lambda b: talib.MAXINDEX(b["high"], 20), ""),
]


def _float_view(column: pl.Series) -> np.ndarray:
    """The column's own memory as a float64 array (a copy only if it is not float64 already)."""
    values = column.to_numpy()
    return values if values.dtype == np.float64 else values.astype(np.float64)


def indicator_plan(expression: str) -> Plan:
    """The plan computing `x = expression` and nothing else."""
    checked = compile_source(f"x = {expression}\n", "bench.tbs", series=["x"]).checked
    return compile_program(checked, series=["x"], signals=False)


def measure(bars: pl.DataFrame, repeat: int, only: list[str] | None = None,
            cpu: bool = False, passes: int = 1) -> list[list[object]]:
    # TA-Lib reads the bars' own columns (float64 without missing values: numpy views of the
    # same memory, no copy), so both sides read the same bytes. With a copy for TA-Lib, each
    # side's input was partly evicted by the other side's call in between (a pair's arrays
    # filled this machine's 32 MB L3), which cost the side whose loop waits more on memory:
    # highest(high, 20) and lowest(low, 20) 1.31-1.42x against 1.12-1.24x with the columns shared
    # (two runs of each, alternated).
    arrays = {c: _float_view(bars[c]) for c in ("open", "high", "low", "close", "volume")}
    cases = [(expression, indicator_plan(expression), oracle, note) for expression, oracle, note in CASES
             if not only or any(text in expression for text in only)]
    best: dict[str, dict[str, float]] = {expression: {} for expression, *_ in cases}
    # Each pass times every row (`repeat` alternated calls a side); a row's figure is its best
    # over the passes. A slow phase of a shared machine lasts seconds, longer than one row's
    # calls: in one pass it lands on whole rows, either side's, while the passes spread each
    # row's calls over the run.
    for _ in range(passes):
        for expression, plan, oracle, _note in cases:
            calls = {"ours": lambda plan=plan: plan.evaluate(bars)}
            if oracle is not None:
                calls["theirs"] = lambda oracle=oracle: oracle(arrays)
            for label, times in alternated_best_of(calls, repeat=repeat).items():
                best[expression][label] = min(times[cpu], best[expression].get(label, math.inf))
    rows: list[list[object]] = []
    for expression, _plan, oracle, note in cases:
        ours = best[expression]["ours"]
        if oracle is None:
            rows.append([f"`{expression}`", ours * 1e3, "", "", note])
            continue
        theirs = best[expression]["theirs"]
        rows.append([f"`{expression}`", ours * 1e3, theirs * 1e3, ours / theirs, note])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--passes", type=int, default=3,
                        help="times over the whole table; each row's best over them (default 3)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall seconds, or CPU seconds of the process (for a shared machine)")
    parser.add_argument("--only", nargs="+", metavar="TEXT",
                        help="only the indicators whose expression contains one of these (while iterating)")
    args = parser.parse_args(argv)
    bars = synthetic_bars(args.bars)
    rows = measure(bars, args.repeat, args.only, cpu=args.clock == "cpu", passes=args.passes)
    ratios = [r[3] for r in rows if isinstance(r[3], float)]
    geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
    print(f"{args.bars:,} bars, best of {args.repeat} in each of {args.passes} passes, {args.clock} time, "
          f"polars {pl.__version__}, "
          f"TA-Lib {talib.__ta_version__.decode().split()[0]}")
    print(table(["indicator", "tradebot ms", "TA-Lib ms", "ratio", "TA-Lib side"], rows))
    print(f"\ngeometric mean ratio over {len(ratios)} indicators: {geomean:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
