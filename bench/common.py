"""Shared helpers for the benchmarks: synthetic bars, timing, markdown tables."""
from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import polars as pl


def synthetic_bars(n: int, *, seed: int = 7) -> pl.DataFrame:
    """A geometric random walk of hourly OHLCV bars (valid: high/low bracket open/close)."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    open_ = np.concatenate([[100.0], close[:-1]]) * np.exp(rng.normal(0, 0.0005, n))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.001, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.001, n)))
    start = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
    timestamps = pl.datetime_range(start, start + dt.timedelta(hours=n - 1), "1h", eager=True,
                                   time_zone="UTC").cast(pl.Datetime("ms", "UTC"))
    return pl.DataFrame({"timestamp": timestamps, "open": open_, "high": high, "low": low,
                         "close": close, "volume": rng.integers(1, 10_000, n).astype(float)})


def best_of(fn: Callable[[], object], *, repeat: int = 5, warmup: int = 1,
            clock: Callable[[], float] = time.perf_counter) -> float:
    """The fastest of `repeat` timed calls after `warmup` untimed ones (seconds). `clock`:
    wall time by default; `time.process_time` counts the CPU time of every thread of the process
    instead, which other work on a shared machine disturbs far less (see bench_indicators.py)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def median_wall(fn: Callable[[], object], *, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def table(headers: list[str], rows: list[list[object]]) -> str:
    def cell(v: object) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_csv(bars: pl.DataFrame, path: Path) -> Path:
    bars.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%SZ")
    return path


def alternated_best_of(calls: dict[str, Callable[[], object]], *, repeat: int = 5
                       ) -> dict[str, tuple[float, float]]:
    """Each call's fastest (wall, CPU) seconds of `repeat`, after one untimed call of each, the
    calls taken in turn rather than one's repeats then the other's: a call's cost depends on what
    the allocator kept from the calls before it (whether its arrays come back as fresh pages to
    fault in), measured 1.3 against 8 ms for the same metrics pass by order alone."""
    for fn in calls.values():
        fn()
    wall: dict[str, list[float]] = {label: [] for label in calls}
    cpu: dict[str, list[float]] = {label: [] for label in calls}
    for _ in range(repeat):
        for label, fn in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            fn()
            wall[label].append(time.perf_counter() - start)
            cpu[label].append(time.process_time() - start_cpu)
    return {label: (min(wall[label]), min(cpu[label])) for label in calls}


def median_process(argv: list[str], *, repeat: int = 3, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system, every thread) of `repeat` runs
    of a new process, after one untimed run. CPU time comes from the children's resource usage (POSIX); where that is
    missing (Windows) it is reported as NaN."""
    import os
    import subprocess
    try:
        import resource
    except ImportError:  # Windows
        resource = None
    # As after a normal install, the processes import from cached bytecode: with
    # PYTHONDONTWRITEBYTECODE set (some sandboxes do) every start-up would compile every module,
    # seconds that no user pays. One untimed run writes the caches (and any program's own).
    env = {name: value for name, value in {**os.environ, **(env or {})}.items()
           if name != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, check=True, capture_output=True, env=env)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN) if resource else None
        start = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env)
        walls.append(time.perf_counter() - start)
        if resource:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus) if cpus else float("nan")


def machine_line() -> str:
    """The machine and its load right now, for the head and foot of a run's output: docs/benchmarks.md
    records both with each figure (the same VM has been an Intel Xeon one day, an AMD EPYC another)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    load = "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "load n/a"
    return f"{now}; {_cpu_model()}, {os.cpu_count()} CPUs; {load}"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")  # Linux; elsewhere the platform's own name (may be empty)
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()
