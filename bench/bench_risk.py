"""Issue 4 benchmark: RSI reversal with a 2 % stop loss and a 4 % take profit on 1,000,000
synthetic hourly bars, tradebot's engine against vectorbt's `Portfolio.from_signals(sl_stop=,
tp_stop=)`, warm, in one run.

    .venv/bin/python bench/bench_risk.py [--bars 1000000] [--repeat 5]

Both engines get the same entry/exit arrays (computed once by the compiled .tbs plan), fill at
the next bar's open with a 0.05 % fee and all equity per trade, and place the stop and target
relative to the fill. Warm: best of `--repeat` calls after a warm-up call. tradebot's time is the
whole `run_backtest` (kernel, trade and equity frames, every metric); vectorbt's is
`from_signals` (its simulation; its trade records and statistics would come on top).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, synthetic_bars, table  # noqa: E402

from tradebot.pipeline import compile_source, execution_config  # noqa: E402
from tradebot.runtime import Signals, run_backtest  # noqa: E402

SCRIPT = """strategy "RSI reversal with a bracket"
fee 0.05%
stop_loss 2%
take_profit 4%
r = rsi(close, 14)
enter long when r crosses above 30
exit  long when r crosses above 70
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="RSI reversal with stop and target: tradebot vs vectorbt")
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars)
    strategy = compile_source(SCRIPT, "bench_risk.tbs")
    frame = strategy.plan.evaluate(bars)
    signals = Signals(*(frame[name].to_numpy() for name in ("enter_long", "exit_long", "enter_short", "exit_short")))
    config = execution_config(strategy.checked)
    ours = run_backtest(bars, signals, config)
    ours_s = best_of(lambda: run_backtest(bars, signals, config), repeat=args.repeat)
    plan_s = best_of(lambda: strategy.plan.evaluate(bars), repeat=args.repeat)

    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pandas as pd
        import vectorbt as vbt
    import_s = time.perf_counter() - start
    prices = {name: pd.Series(bars[name].to_numpy()) for name in ("open", "high", "low", "close")}
    entries, exits = (np.r_[False, a[:-1]] for a in (signals.enter_long, signals.exit_long))  # next open

    def vectorbt_run():
        return vbt.Portfolio.from_signals(
            prices["close"], entries, exits, price=prices["open"], open=prices["open"],
            high=prices["high"], low=prices["low"], sl_stop=0.02, tp_stop=0.04,
            stop_entry_price="fillprice", fees=0.0005, size=np.inf, init_cash=10_000.0, freq="1h")

    theirs = vectorbt_run()
    theirs_s = best_of(vectorbt_run, repeat=args.repeat)
    reasons = ", ".join(f"{n:,} {r}" for r, n in sorted(ours.trades["exit_reason"].value_counts().rows()))
    print(f"RSI(14) reversal, stop 2 %, target 4 %, fee 0.05 %, {args.bars:,} bars "
          f"(tradebot trades: {reasons})\n")
    print(table(["bars", "tradebot trades", "vectorbt trades", "warm tradebot s", "warm vectorbt s", "ratio"],
                [[f"{args.bars:,}", f"{ours.trades.height:,}", f"{theirs.trades.count():,}", ours_s,
                  theirs_s, f"{ours_s / theirs_s:.2f}"]]))
    print(f"\ntradebot plan (RSI and signals): {plan_s:.3f} s; `import vectorbt`: {import_s:.2f} s")


if __name__ == "__main__":
    main()
