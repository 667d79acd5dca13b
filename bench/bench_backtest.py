"""Issue 2 benchmark: the same SMA-cross strategy (long and short, next-open fills, fee and
slippage) through tradebot and through vectorbt, on 100k and 1M synthetic hourly bars, in one run.

    .venv/bin/python bench/bench_backtest.py            # needs `pip install -e '.[test,bench]'`
    .venv/bin/python bench/bench_backtest.py --warm-only [--clock cpu]

vectorbt 1.2 has two engines, numba (its default) and Rust (the `vectorbt-rust` package, which the
bench extra installs; `vbt.settings["engine"]` picks one): both are timed, side by side, and the
ratios are against the faster of the two at each size. Warm: best of 5 in-process calls after a
warm-up call (numba compiled, data in memory), from OHLCV in memory to trades + equity + headline
metrics. Cold: a new Python process that imports, loads the same bars from an .npz file, computes
once and exits (median of 3 wall-clock runs). Whole job: the same strategy on a 1M-bar CSV in a
new process, `tradebot run` (data cache primed, and `--no-cache`) beside a vectorbt script that
reads the CSV with pandas and prints the same headline figures, each engine; median wall and CPU
seconds of 3 runs (CPU: user + system of every thread, which a loaded machine disturbs less).
`--warm-only` skips the new processes (minutes on a loaded machine), `--whole-only` runs only the
whole job, `--no-whole` skips it; `--clock cpu` times the warm calls in CPU seconds of the
process, as bench_indicators.py explains.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, median_process, median_wall, synthetic_bars, table, write_csv  # noqa: E402

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

ENGINES = ("numba", "rust")

VECTORBT_CODE = textwrap.dedent(f"""
    import numpy as np, pandas as pd, vectorbt as vbt
    def run(bars, engine):
        vbt.settings["engine"] = engine  # 'rust' fails loudly when vectorbt-rust is missing
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


def cold(code: str, npz: Path, call: str = "run(bars)") -> float:
    loader = textwrap.dedent(f"""
        import numpy as np, polars as pl
        d = np.load({str(npz)!r})
        bars = pl.DataFrame({{k: d[k] for k in d.files}}).with_columns(
            pl.col("timestamp").cast(pl.Datetime("ms", "UTC")))
    """)
    program = code + loader + call + "\n"
    return median_wall(lambda: subprocess.run([sys.executable, "-c", program], check=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm-only", action="store_true", help="skip the new-process timings")
    parser.add_argument("--whole-only", action="store_true",
                        help="only the whole-job processes (tradebot run vs a vectorbt script)")
    parser.add_argument("--no-whole", action="store_true", help="skip the whole-job processes")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="warm calls in wall seconds, or CPU seconds of the process")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.whole_only:
        with tempfile.TemporaryDirectory() as tmp:
            print_whole_runs(whole_runs(Path(tmp)))
        return
    tradebot_run, vectorbt_run = in_process(TRADEBOT_CODE), in_process(VECTORBT_CODE)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100_000, 1_000_000):
            bars = synthetic_bars(n)
            npz = Path(tmp) / f"bars_{n}.npz"
            np.savez(npz, **{c: bars[c].to_numpy() for c in bars.columns})
            trades = [tradebot_run(bars)[0]] + [vectorbt_run(bars, engine)[0] for engine in ENGINES]
            warm = [best_of(lambda: tradebot_run(bars), clock=clock)]
            warm += [best_of(lambda: vectorbt_run(bars, engine), clock=clock) for engine in ENGINES]
            rows.append([f"{n:,}", " / ".join(str(t) for t in trades), *warm, warm[0] / min(warm[1:])])
            if not args.warm_only:
                colds = [cold(TRADEBOT_CODE, npz)]
                colds += [cold(VECTORBT_CODE, npz, f"run(bars, {engine!r})") for engine in ENGINES]
                rows[-1] += [*colds, colds[0] / min(colds[1:])]
        if args.warm_only:
            print(table(["bars", "trades (tb / vbt numba / vbt rust)", f"warm tb s ({args.clock})",
                         "warm vbt numba s", "warm vbt rust s", "warm ratio (vs faster)"], rows))
            return
        whole = whole_runs(Path(tmp)) if not args.no_whole else None
    print(table(["bars", "trades (tb / vbt numba / vbt rust)", "warm tb s", "warm vbt numba s",
                 "warm vbt rust s", "warm ratio (vs faster)", "cold tb s", "cold vbt numba s",
                 "cold vbt rust s", "cold ratio (vs faster)"], rows))
    if whole:
        print_whole_runs(whole)


def whole_runs(tmp: Path) -> list[tuple[str, float, float]]:
    """The whole job in a new process, on the same 1M-bar CSV: `tradebot run` (its data cache
    primed by the untimed run, and with --no-cache), and a vectorbt script that reads the CSV
    with pandas, runs the same strategy and prints the same headline figures, with each engine.
    (name, median wall s, median CPU s) of 3 runs each."""
    csv = write_csv(synthetic_bars(1_000_000), tmp / "bars_1m.csv")
    script = tmp / "sma.tbs"
    script.write_text(SCRIPT)
    tradebot = [str(Path(sys.executable).with_name("tradebot")), "run", str(script), "--data", str(csv)]
    env = {"TRADEBOT_RUN_CACHE_DIR": str(tmp / "cache")}  # median_process's untimed run primes it
    results = [("tradebot run (cached data)", *median_process(tradebot, env=env)),
               ("tradebot run --no-cache", *median_process([*tradebot, "--no-cache"], env=env))]
    for engine in ENGINES:
        program = VECTORBT_CODE + VECTORBT_WHOLE.format(csv=str(csv), engine=engine)
        try:
            results.append((f"vectorbt ({engine}) script", *median_process([sys.executable, "-c", program])))
        except subprocess.CalledProcessError as exc:  # e.g. vectorbt-rust not installed
            print(f"vectorbt ({engine}) skipped: {exc.stderr.decode().strip().splitlines()[-1]}")
    return results


# vectorbt's side of the whole job: read the CSV as a vectorbt user would (pandas), run, report.
VECTORBT_WHOLE = textwrap.dedent("""
    bars = pd.read_csv({csv!r})
    bars["timestamp"] = pd.to_datetime(bars["timestamp"], utc=True).dt.tz_localize(None)
    print(run(bars, {engine!r}))  # run() reads columns with .to_numpy(), as from a polars frame
""")


def print_whole_runs(results: list[tuple[str, float, float]]) -> None:
    fastest_vbt_wall = min(wall for name, wall, _ in results if name.startswith("vectorbt"))
    fastest_vbt_cpu = min(cpu for name, _, cpu in results if name.startswith("vectorbt"))
    rows = [[name, wall, cpu, wall / fastest_vbt_wall, cpu / fastest_vbt_cpu] for name, wall, cpu in results]
    print("\nwhole job on 1,000,000 bars in a new process (start-up, CSV, backtest, report; median of 3):")
    print(table(["process", "wall s", "CPU s", "wall vs faster vbt", "CPU vs faster vbt"], rows))


if __name__ == "__main__":
    main()
