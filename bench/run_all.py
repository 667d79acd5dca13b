"""Run every benchmark in one go (`make bench`); each prints its own table.

The figures recorded in docs/benchmarks.md come from these scripts on the reference machine.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCHES = ("bench_backtest.py", "bench_loader.py", "bench_indicators.py", "bench_risk.py", "bench_optimize.py",
           "bench_repl.py", "bench_hostile.py")


def main() -> int:
    here = Path(__file__).resolve().parent
    failed = []
    for name in BENCHES:
        print(f"\n=== {name}", flush=True)
        if subprocess.run([sys.executable, str(here / name)]).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
