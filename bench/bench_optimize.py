"""Issue 5 benchmark: parameter sweeps through tradebot and through vectorbt's broadcast sweep, on
100k synthetic hourly bars, in one run.

    .venv/bin/python bench/bench_optimize.py            # needs `pip install -e '.[test,bench]'`

Cases (both sides compute the same kind of strategy; long and short, orders at the next open, all
equity per position, 0.02 % fee and 0.005 % slippage per side):
- SMA cross: fast in 5..50 step 5, slow in 20..200 step 20, fast < slow (90 combinations);
- RSI with stops: length 7..28 step 7, lower 20..35 step 5, upper 65..80 step 5, stop loss
  1 %..3 % step 1 % (192 combinations).

Each side runs in its own fresh process so its memory is its own: import, make the bars, warm up
on 2,000 bars (numba compiled or loaded from cache), then time the sweep (best of 2; with 2 jobs
the worker processes start in the first of the two, shown in brackets). Peak memory
is the process's peak resident set size; "sweep MB" is that peak less the resident size measured
just before the timed sweeps (imports and data excluded). tradebot runs the real optimizer
(`run_search`: check, one shared plan per batch, numba engine, every metric of a plain run per
combination); vectorbt is asked for Sharpe, total return, max drawdown and trade count.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import table  # noqa: E402

BARS = 100_000
FEE, SLIPPAGE = 0.0002, 0.00005
SMA_PAIRS = [(f, s) for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]
RSI_GRID = [(n, lo, up, sl) for n in (7, 14, 21, 28) for lo in (20, 25, 30, 35) for up in (65, 70, 75, 80)
            for sl in (0.01, 0.02, 0.03)]

SCRIPTS = {
    "sma": f"""fee {FEE * 100}%
slippage {SLIPPAGE * 100}%
param fast = 10 in 5..50 step 5
param slow = 40 in 20..200 step 20
enter long  when sma(close, fast) crosses above sma(close, slow)
enter short when sma(close, fast) crosses below sma(close, slow)
optimize maximize sharpe where fast < slow
""",
    "rsi_stops": f"""fee {FEE * 100}%
slippage {SLIPPAGE * 100}%
param length = 14 in 7..28 step 7
param lower = 30 in 20..35 step 5
param upper = 70 in 65..80 step 5
param sl = 2% in 1%..3% step 1%
stop_loss sl
r = rsi(close, length)
enter long  when r crosses above lower
exit  long  when r crosses above upper
enter short when r crosses below upper
exit  short when r crosses below lower
optimize maximize sharpe
""",
}

PRELUDE = textwrap.dedent(f"""
    import json, resource, sys, time
    sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
    from common import synthetic_bars

    def rss_mb():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize() / 2**20

    def peak_mb():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def measure(sweep, bars, combos):
        sweep(bars.head(2000))  # warm-up: numba compiled or loaded from its cache
        before = rss_mb()
        first, first_cpu = timed(sweep, bars)
        second, second_cpu = timed(sweep, bars)
        print(json.dumps({{"combos": combos, "seconds": min(first, second), "first_seconds": first,
                          "cpu_seconds": min(first_cpu, second_cpu),
                          "peak_mb": peak_mb(), "sweep_mb": peak_mb() - before}}))

    def timed(sweep, bars):
        # (wall, CPU) seconds; CPU counts the threads of this process, not worker processes
        start, cpu = time.perf_counter(), time.process_time()
        sweep(bars)
        return time.perf_counter() - start, time.process_time() - cpu
""")

TRADEBOT = textwrap.dedent("""
    from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
    from tradebot.optimize.parallel import Workers
    from tradebot.optimize.search import SearchOptions, run_search
    from tradebot.optimize.space import Space

    POOLS = {}  # bars -> (evaluator, workers): worker start-up is timed once, in the first run

    def sweep(bars):
        if bars.height not in POOLS or JOBS == 1:
            # One job: a new evaluator each sweep, as a new `tradebot run --optimize` has: the
            # indicator columns an evaluator keeps between batches (optimize/columns.py) would
            # make the second of the timed sweeps a rerun that computes none.
            evaluator = Evaluator(EvaluatorSpec(SCRIPT, "bench.tbs", bars, Objective("sharpe")))
            POOLS[bars.height] = evaluator, Workers(evaluator, jobs=JOBS)
        evaluator, workers = POOLS[bars.height]
        found = run_search(evaluator, Space(evaluator.base), SearchOptions("grid", None, jobs=JOBS),
                           Window(0, bars.height), workers=workers)
        assert found.trials.height == COMBOS and (found.trials["status"] == "ok").all()
""")

VECTORBT = textwrap.dedent("""
    import numpy as np, pandas as pd, vectorbt as vbt
    vbt.settings["engine"] = ENGINE  # 'rust' fails loudly when vectorbt-rust is missing

    def frames(bars):
        index = pd.DatetimeIndex(bars["timestamp"].to_numpy())
        return {k: pd.Series(bars[k].to_numpy(), index=index) for k in ("open", "high", "low", "close")}

    def finish(p, columns, long_in, long_out, short_in, short_out, **stops):
        shift = lambda s: s.shift(1, fill_value=False)  # decided at the close, filled at the next open
        pf = vbt.Portfolio.from_signals(p["close"], entries=shift(long_in), exits=shift(long_out),
                                        short_entries=shift(short_in), short_exits=shift(short_out),
                                        price=p["open"], open=p["open"], high=p["high"], low=p["low"],
                                        fees=FEE, slippage=SLIPPAGE, size=np.inf, init_cash=10_000.0,
                                        freq="1h", **stops)
        pf.sharpe_ratio(); pf.total_return(); pf.max_drawdown(); pf.trades.count()

    def sweep_sma(bars):
        p = frames(bars)
        columns = pd.MultiIndex.from_tuples(GRID, names=["fast", "slow"])
        fast = vbt.MA.run(p["close"], [g[0] for g in GRID]).ma.set_axis(columns, axis=1)
        slow = vbt.MA.run(p["close"], [g[1] for g in GRID]).ma.set_axis(columns, axis=1)
        none = pd.DataFrame(False, index=fast.index, columns=columns)
        finish(p, columns, fast.vbt.crossed_above(slow), none, fast.vbt.crossed_below(slow), none)

    def sweep_rsi_stops(bars):
        p = frames(bars)
        columns = pd.MultiIndex.from_tuples(GRID, names=["length", "lower", "upper", "sl"])
        rsi = vbt.RSI.run(p["close"], [g[0] for g in GRID], ewm=True).rsi.set_axis(columns, axis=1)
        lower = np.array([g[1] for g in GRID], dtype=float)
        upper = np.array([g[2] for g in GRID], dtype=float)
        finish(p, columns, rsi.vbt.crossed_above(lower), rsi.vbt.crossed_above(upper),
               rsi.vbt.crossed_below(upper), rsi.vbt.crossed_below(lower),
               sl_stop=np.array([g[3] for g in GRID])[None, :])

    sweep = sweep_sma if CASE == "sma" else sweep_rsi_stops
""")


def child(side: str, case: str, *, jobs: int = 1, engine: str = "numba") -> dict:
    grid = SMA_PAIRS if case == "sma" else RSI_GRID
    settings = (f"SCRIPT = {SCRIPTS[case]!r}\nCOMBOS = {len(grid)}\nJOBS = {jobs}\nGRID = {grid!r}\n"
                f"CASE = {case!r}\nFEE, SLIPPAGE = {FEE}, {SLIPPAGE}\nENGINE = {engine!r}\n")
    body = TRADEBOT if side == "tradebot" else VECTORBT
    main = f"bars = synthetic_bars({BARS})\nmeasure(sweep, bars, {len(grid)})\n"
    code = PRELUDE + settings + body + ("\nif __name__ == '__main__':\n" + textwrap.indent(main, "    "))
    script = Path(__file__).resolve().parent / f".bench_optimize_{side}.py"
    script.write_text(code, encoding="utf-8")
    try:
        out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    except subprocess.CalledProcessError as err:
        raise SystemExit(f"{side} {case} failed:\n{err.stderr}") from None
    finally:
        script.unlink(missing_ok=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rust_installed() -> bool:
    return importlib.util.find_spec("vectorbt_rust") is not None


def main() -> None:
    engines = ("numba", "rust") if rust_installed() else ("numba",)
    rows = []
    for case in ("sma", "rsi_stops"):
        ours = child("tradebot", case)
        theirs = {engine: child("vectorbt", case, engine=engine) for engine in engines}
        two = child("tradebot", case, jobs=2)
        speed = lambda r: r["combos"] / r["seconds"]  # noqa: E731
        cpu_speed = lambda r: r["combos"] / r["cpu_seconds"]  # noqa: E731
        fastest = max(theirs.values(), key=speed)
        fastest_cpu = max(theirs.values(), key=cpu_speed)
        first_two = two["combos"] / two["first_seconds"]
        rows.append([case, ours["combos"], speed(ours), cpu_speed(ours), f"{speed(two):,.1f} ({first_two:,.1f})",
                     " / ".join(f"{speed(theirs[e]):,.1f}" for e in engines),
                     " / ".join(f"{cpu_speed(theirs[e]):,.1f}" for e in engines),
                     speed(ours) / speed(fastest), cpu_speed(ours) / cpu_speed(fastest_cpu),
                     ours["peak_mb"], " / ".join(f"{theirs[e]['peak_mb']:,.0f}" for e in engines),
                     ours["sweep_mb"], " / ".join(f"{theirs[e]['sweep_mb']:,.0f}" for e in engines)])
        print(f"{case}: done", file=sys.stderr)
    names = " / ".join(engines)
    print(table(["case", "combos", "tradebot combos/s", "tradebot combos/CPU s",
                 "tradebot 2 jobs combos/s (incl. start)", f"vectorbt {names} combos/s",
                 f"vectorbt {names} combos/CPU s", "ratio (wall, vs fastest)", "ratio (CPU, vs fastest)",
                 "tradebot peak MB", f"vectorbt {names} peak MB", "tradebot sweep MB",
                 f"vectorbt {names} sweep MB"],
                [[f"{v:,.1f}" if isinstance(v, float) else v for v in r] for r in rows]))


if __name__ == "__main__":
    main()
