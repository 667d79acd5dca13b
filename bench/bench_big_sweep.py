"""Issue 18.3: a 100,000-trial random sweep on 100k bars stays in bounded memory.

    .venv/bin/python bench/bench_big_sweep.py [--bars N] [TRIALS ...]     # default: 100000 bars; 10000 100000 trials

Each size runs `tradebot run SCRIPT --optimize --method random --trials N --out DIR` (one job,
the whole command: sweep, review, report, trials.csv) in a new process on 100,000 synthetic hourly
bars, and prints its wall and CPU seconds and its peak resident memory. Bounded means the peak
does not grow with N: beyond 20,000 trials the sweep streams its trials to disk and keeps the best
1,000 (optimize/trial_log.py); trials.csv still holds every trial (its row count is checked).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import synthetic_bars, table, write_csv  # noqa: E402

BARS = 100_000
SCRIPT = """fee 0.02%
slippage 0.005%
param length = 14 in 5..60
param lower = 30 in 10..45
param upper = 70 in 55..90
param sl = 2% in 0.5%..5%
stop_loss sl
r = rsi(close, length)
enter long  when r crosses above lower
exit  long  when r crosses above upper
enter short when r crosses below upper
exit  short when r crosses below lower
optimize maximize sharpe by random trials 1000
"""


def one(folder: Path, trials: int) -> None:
    """In this process: the command, then its figures as JSON."""
    from tradebot.cli import main

    started, cpu = time.perf_counter(), time.process_time()
    code = main(["run", str(folder / "big.tbs"), "--data", str(folder / "bars.csv"), "--optimize",
                 "--method", "random", "--trials", str(trials), "--seed", "1", "--out", str(folder / "out"), "--yes"])
    assert code == 0, code
    rows = sum(1 for _ in open(folder / "out" / "trials.csv", encoding="utf-8")) - 1
    print(json.dumps({"trials": trials, "rows": rows, "seconds": time.perf_counter() - started,
                      "cpu_seconds": time.process_time() - cpu,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    args = sys.argv[1:]
    bars = BARS
    if args[:1] == ["--bars"]:
        bars, args = int(args[1]), args[2:]
    sizes = [int(a) for a in args] or [10_000, 100_000]
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        write_csv(synthetic_bars(bars), folder / "bars.csv")
        (folder / "big.tbs").write_text(SCRIPT, encoding="utf-8")
        for trials in sizes:
            out = subprocess.run([sys.executable, __file__, "--one", name, str(trials)], check=True,
                                 capture_output=True, text=True)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            assert got["rows"] == trials, got
            rows.append([trials, got["seconds"], got["cpu_seconds"], trials / got["cpu_seconds"], got["peak_mb"]])
            print(f"{trials}: done", file=sys.stderr)
    print(f"{bars:,} bars")
    print(table(["trials", "wall s", "CPU s", "trials / CPU s", "peak MB"], rows))
    if len(rows) > 1:  # bounded: about 1 or below, whatever the ratio of the trial counts
        (few, few_mb), (most, most_mb) = (rows[0][0], rows[0][4]), (rows[-1][0], rows[-1][4])
        print(f"peak at {most:,} trials / peak at {few:,}: {most_mb / few_mb:.2f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        one(Path(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
