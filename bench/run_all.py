"""Run every benchmark in one go (`make bench`); each prints its own table.

The figures recorded in docs/benchmarks.md come from these scripts on the reference machine.
Every target of issue 18 is measured here: the long ones last (`--jobs 2` on a sweep of about
30 s, and 100,000 trials of a random sweep, on fewer bars to save time: its memory grows per
trial, not per bar), about 8 minutes in all on 2 cores.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import machine_line, synthetic_bars, write_csv  # noqa: E402

BENCHES = ("bench_backtest.py", "bench_loader.py", "bench_indicators.py", "bench_risk.py", "bench_optimize.py",
           "bench_repl.py", "bench_hostile.py")
# The MACD script's space holds 3,080 combinations (a random search of more samples each once): on
# 100k bars one job took 19 s in a quiet hour, on 200k bars 37 s (the target is for 30 s or more).
JOBS_BARS, JOBS_TRIALS = 200_000, 6000
BIG_SWEEP = ("--bars", "2000", "10000", "100000")


def main() -> int:
    failed = []
    print(f"start: {machine_line()}", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        bars = write_csv(synthetic_bars(JOBS_BARS), Path(folder) / "bars.csv")
        runs = [(name, ()) for name in BENCHES]
        runs += [("bench_jobs.py", ("-", str(bars), str(JOBS_TRIALS))), ("bench_big_sweep.py", BIG_SWEEP)]
        for name, args in runs:
            print(f"\n=== {name} {' '.join(args)}".rstrip(), flush=True)
            if subprocess.run([sys.executable, str(HERE / name), *args]).returncode != 0:
                failed.append(name)
    print(f"\nend: {machine_line()}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
