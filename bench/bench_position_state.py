"""Issue 13.1 benchmark: a strategy reading position state, with a recursion and a variable
window, against the same strategy without them, on 1,000,000 synthetic hourly bars; and a whole
`tradebot run` of it in a new process, also for a script never run before.

    .venv/bin/python bench/bench_position_state.py [--bars 1000000] [--repeat 5]

"with" reads highest_since_entry, bars_since_entry, open_profit_pct and entry_price (a moving
stop), a recursion reading the position (`held`) and a window whose length is a series
(`lowest(low, bar_index % 20 + 1)`); "without" has the same
indicators and rule shapes with ordinary series in their place. "backtest" is compile + plan +
engine + metrics (`pipeline.backtest`), warm, best of --repeat calls of each script, alternated,
wall and CPU time (this process, every thread). "tradebot run" is a new process per run on a CSV of the bars (median of 3 after
one untimed run); "never run" writes a new script (another constant) before each run, so no
cache of the script's own can help: only the installation's compiled code is reused.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import alternated_best_of, median_process, synthetic_bars, table, write_csv  # noqa: E402

from tradebot.pipeline import backtest, compile_source  # noqa: E402

COMMON = """strategy "Chandelier"
fee 0.05%
upper = highest(high, 48)[1]
a = atr(22)
"""
WITH = COMMON + """held = if position_side != 0 then held[1] + 1 else 0 starting 0
stop_loss long at entry_price - 2 * atr(14)
enter long when close crosses above upper
exit long when close < highest_since_entry(high) - 3 * a
exit long when bars_since_entry >= 48 and open_profit_pct < 0.5%
exit long when held > 10 and close < lowest(low, bar_index % 20 + 1)[1]
"""
WITHOUT = COMMON + """held = barssince(close crosses above upper)
stop_loss long at close - 2 * atr(14)
enter long when close crosses above upper
exit long when close < highest(high, 22) - 3 * a
exit long when held >= 48 and close < open
exit long when held > 10 and close < lowest(low, 20)[1]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description="position state vs none, same script shape")
    parser.add_argument("--bars", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bars = synthetic_bars(args.bars)
    runs = {label: (lambda source=source: backtest(compile_source(source, "bench.tbs"), bars))
            for label, source in (("with position state", WITH), ("without", WITHOUT))}
    trades = {label: run().trades.height for label, run in runs.items()}
    best = alternated_best_of(runs, repeat=args.repeat)
    rows = [[label, trades[label], 1000 * best[label][0], 1000 * best[label][1]] for label in runs]
    rows.append(["ratio", "", rows[0][2] / rows[1][2], rows[0][3] / rows[1][3]])
    print(f"{args.bars:,} bars, pipeline.backtest warm, best of {args.repeat} (ms)")
    print(table(["script", "trades", "wall", "CPU"], rows))
    with tempfile.TemporaryDirectory() as folder:
        data = write_csv(bars, Path(folder) / "bars.csv")
        script = Path(folder) / "s.tbs"
        script.write_text(WITH, encoding="utf-8")
        run = [sys.executable, "-m", "tradebot", "run", str(script), "--data", str(data)]
        wall, cpu = median_process(run)
        fresh = []
        for i in range(3):
            script.write_text(WITH.replace("held > 10", f"held > {11 + i}"), encoding="utf-8")
            start = time.perf_counter()
            subprocess.run(run, check=True, capture_output=True)
            fresh.append(time.perf_counter() - start)
        print(table(["tradebot run (new process)", "wall s", "CPU s"],
                    [["the script", wall, cpu], ["a script never run before (median of 3)",
                                                 statistics.median(fresh), ""]]))


if __name__ == "__main__":
    main()
