"""Where the time of `--jobs N` goes (docs/optimize.md, "Jobs: where the time goes").

    .venv/bin/python bench/bench_jobs.py [SCRIPT or -] [DATA] [TRIALS]

Defaults: a MACD + ATR-stop script on the bundled EURUSD data, random search of 200 trials.
Prints, in one process: the cost of a trial once warm, the one-off warm-up of a fresh process,
the time to start and to stop 2 workers, the size and pickling time of the bars sent to each,
the cost of recording a trial in a SQLite study, the sweep with 1 job and with 2 workers, and what
the optimizer's own choice (`plan_jobs`) says. Run it with `uptime` beside it: load changes all.
"""
from __future__ import annotations

import os
import pickle
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MACD = """strategy "MACD cross + ATR stop"
fee 0.04%
slippage 0.01%
param fast = 12 in 6..20 step 2
param slow = 26 in 20..40 step 2
param sig  = 9 in 5..13 step 2
param k    = 2 in 1..4 step 0.5
m = macd(close, fast, slow, sig)
stop_loss k * atr(14)
take_profit 2 * k * atr(14)
enter long  when m.macd crosses above m.signal and m.macd < 0
enter short when m.macd crosses below m.signal and m.macd > 0
exit long   when m.macd crosses below m.signal
exit short  when m.macd crosses above m.signal
optimize maximize sharpe by random trials 200 where fast < slow
"""


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    import optuna

    from tradebot.optimize import parallel
    from tradebot.optimize.batch import Evaluator, EvaluatorSpec, Objective, Window
    from tradebot.optimize.search import SearchOptions, run_search
    from tradebot.optimize.space import Space
    from tradebot.optimize.study import frozen_trials, open_storage, open_study
    from tradebot.pipeline import load_bars

    script = Path(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1] != "-" else None  # "-": the MACD script
    data = Path(sys.argv[2]) if len(sys.argv) > 2 else ROOT / "data" / "EURUSD_1h.csv"
    trials = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    source = script.read_text() if script else MACD
    bars = load_bars(data)
    evaluator = Evaluator(EvaluatorSpec(source, str(script or "macd.tbs"), bars, Objective("sharpe")))
    space = Space(evaluator.base)
    window = Window(0, bars.height)
    sample = space.sample(trials, seed=1)
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""  # not on Windows
    print(f"{bars.height:,} bars, {trials} trials, {os.cpu_count()} CPUs{load}")
    first, _ = timed(lambda: evaluator.run(sample.take(0, 8), window))
    steady, _ = timed(lambda: evaluator.run(sample.take(8, 16), window))
    print(f"first batch of 8: {first:.2f} s (warm-up included); next 8: {steady:.3f} s, "
          f"{steady / 8 * 1000:.1f} ms a trial")
    blob = pickle.dumps(evaluator.spec)
    print(f"bars sent to each worker: {len(blob) / 1e6:.1f} MB")
    start, workers = timed(lambda: parallel.Workers(evaluator, jobs=2))
    ready, _ = timed(lambda: [f.result() for f in [workers.pool.submit(parallel._nothing) for _ in range(2)]])
    print(f"starting 2 workers: {start + ready:.2f} s")
    swept, found = timed(lambda: run_search(evaluator, space, SearchOptions("random", trials, seed=1, jobs=2),
                                            window, workers=workers))
    stop, _ = timed(workers.close)
    print(f"sweep with 2 workers: {swept:.2f} s; stopping them: {stop:.2f} s")
    with parallel.Workers(evaluator, jobs=1) as alone:
        one, _ = timed(lambda: run_search(evaluator, space, SearchOptions("random", trials, seed=1), window,
                                          workers=alone))
    print(f"sweep in one process: {one:.2f} s")
    print(f"2 workers against one process: {one / (start + ready + swept + stop):.2f}x with their start "
          f"and stop, {one / swept:.2f}x without (issue 18: at least 1.7x on a sweep of 30 s or more)")
    plan = parallel.plan_jobs(evaluator, sample.take(0, parallel.PROBE), window, trials=trials, jobs=2)
    print(f"the optimizer's choice: {plan.jobs} job(s){': ' + plan.why_fewer if plan.why_fewer else ''}")
    with tempfile.TemporaryDirectory() as folder:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = open_study(name="bench", objective=evaluator.objective, fingerprint="bench",
                           storage=open_storage("sqlite:///" + str(Path(folder) / "s.db")))
        rows = found.trials.head(64)
        recorded, _ = timed(lambda: study.add_trials(frozen_trials(rows, space.dims)))
        print(f"recording a trial in a SQLite study: {recorded / rows.height * 1000:.1f} ms")


if __name__ == "__main__":
    main()
