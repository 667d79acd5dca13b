"""Issue 2 benchmark: the same SMA-cross strategy (long and short, next-open fills, fee and
slippage) through tradebot and through vectorbt, on 100k and 1M synthetic hourly bars, in one run.

    .venv/bin/python bench/bench_backtest.py            # needs `pip install -e '.[test,bench]'`

Warm: best of 5 in-process calls after a warm-up call (numba compiled, data in memory), from OHLCV
in memory to trades + equity + headline metrics. Cold: a new Python process that imports, loads the
same bars from an .npz file, computes once and exits (median of 3 wall-clock runs). Also times a
whole `tradebot run` on a 1M-bar CSV (new process: start-up, CSV load and validation, compile,
backtest, report).
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, median_wall, synthetic_bars, table, write_csv  # noqa: E402

FAST, SLOW, FEE, SLIPPAGE = 10, 30, 0.0002, 0.00005
SCRIPT = f"""strategy "SMA cross"
fee {FEE * 100}%
slippage {SLIPPAGE * 100}%
enter long  when sma(close, {FAST}) crosses above sma(close, {SLOW})
enter short when sma(close, {FAST}) crosses below sma(close, {SLOW})
"""

TRADEBOT_CODE = textwrap.dedent(f"""
    import numpy as np, polars as pl
    from tradebot.pipeline import compile_source, backtest
    def run(bars):
        strategy = compile_source({SCRIPT!r}, "sma.tbs")
        result = backtest(strategy, bars)
        return result.trades.height, result.metrics["all"]["final_equity"]
""")

VECTORBT_CODE = textwrap.dedent(f"""
    import numpy as np, pandas as pd, vectorbt as vbt
    def run(bars):
        index = pd.DatetimeIndex(bars["timestamp"].to_numpy())
        close = pd.Series(bars["close"].to_numpy(), index=index)
        open_ = pd.Series(bars["open"].to_numpy(), index=index)
        fast, slow = vbt.MA.run(close, {FAST}).ma, vbt.MA.run(close, {SLOW}).ma
        long_entries = fast.vbt.crossed_above(slow).shift(1, fill_value=False)   # act at next open
        short_entries = fast.vbt.crossed_below(slow).shift(1, fill_value=False)
        pf = vbt.Portfolio.from_signals(close, entries=long_entries, short_entries=short_entries,
                                        price=open_, fees={FEE}, slippage={SLIPPAGE}, size=np.inf,
                                        init_cash=10_000.0, freq="1h")
        pf.sharpe_ratio(); pf.max_drawdown()
        return pf.trades.count(), pf.final_value()
""")


def in_process(code: str):
    namespace: dict = {}
    exec(code, namespace)
    return namespace["run"]


def cold(code: str, npz: Path) -> float:
    loader = textwrap.dedent(f"""
        import numpy as np, polars as pl
        d = np.load({str(npz)!r})
        bars = pl.DataFrame({{k: d[k] for k in d.files}}).with_columns(
            pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    """)
    program = code + loader + "run(bars)\n"
    return median_wall(lambda: subprocess.run([sys.executable, "-c", program], check=True))


def main() -> None:
    tradebot_run, vectorbt_run = in_process(TRADEBOT_CODE), in_process(VECTORBT_CODE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100_000, 1_000_000):
            bars = synthetic_bars(n)
            npz = Path(tmp) / f"bars_{n}.npz"
            np.savez(npz, **{c: bars[c].to_numpy() for c in bars.columns})
            trades_tb, trades_vbt = tradebot_run(bars)[0], vectorbt_run(bars)[0]
            warm_tb, warm_vbt = best_of(lambda: tradebot_run(bars)), best_of(lambda: vectorbt_run(bars))
            cold_tb, cold_vbt = cold(TRADEBOT_CODE, npz), cold(VECTORBT_CODE, npz)
            rows.append([f"{n:,}", trades_tb, trades_vbt, warm_tb, warm_vbt, warm_tb / warm_vbt,
                         cold_tb, cold_vbt, cold_tb / cold_vbt])
        big = synthetic_bars(1_000_000)
        csv = write_csv(big, Path(tmp) / "bars_1m.csv")
        script = Path(tmp) / "sma.tbs"
        script.write_text(SCRIPT)
        tradebot = Path(sys.executable).with_name("tradebot")
        whole = median_wall(lambda: subprocess.run([str(tradebot), "run", str(script), "--data", str(csv)],
                                                   check=True, capture_output=True))
    print(table(["bars", "trades (tb)", "trades (vbt)", "warm tb s", "warm vbt s", "warm ratio",
                 "cold tb s", "cold vbt s", "cold ratio"], rows))
    print(f"\nwhole `tradebot run` on 1,000,000 bars (new process, CSV load to report): {whole:.2f} s")


if __name__ == "__main__":
    main()
