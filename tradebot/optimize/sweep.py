"""What every search shares: its options, its result, and a sweep of candidates in this process
and its workers (grid and random without storage; the base of the shared sweep in shared.py)."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import polars as pl

from . import interrupt
from .batch import Evaluator, Objective, Window
from .parallel import Workers
from .progress import Progress
from .space import Candidates, Space
from .trial_log import TrialLog, keep_best


@dataclass(frozen=True)
class SearchOptions:
    """How to search (the script's `optimize` statement, overridden by flags)."""

    method: str
    trials: int | None
    seed: int = 0
    jobs: int = 1
    storage: str | None = None
    study: str = "tradebot"
    fingerprint: str = ""


@dataclass(frozen=True)
class SearchResult:
    """Every trial of a sweep (one row each, ordered by position) and how the sweep ended.

    A big sweep streams its trials to disk (trial_log.py): `trials` then holds only the best
    KEPT of them and `log` all of them; `count`, `evaluated` and `write_csv` cover every trial
    either way."""

    trials: pl.DataFrame
    interrupted: bool
    elapsed: float
    log: TrialLog | None = None

    def ranked(self, objective: Objective) -> pl.DataFrame:
        """The distinct param sets with a valid objective, best first (ties: the earlier trial)."""
        return keep_best(self.trials, objective, rows=None)

    def best(self, objective: Objective) -> dict | None:
        ranked = self.ranked(objective)
        return ranked.row(0, named=True) if ranked.height else None

    @property
    def count(self) -> int:
        """Trials run (every one, also those only on disk)."""
        return self.log.count if self.log is not None and self.log.spilled else self.trials.height

    def evaluated(self, *columns: str) -> pl.DataFrame:
        """`columns` of every trial that produced metrics (not an error)."""
        trials = self.log.scan() if self.log is not None and self.log.spilled else self.trials.lazy()
        if "status" not in trials.collect_schema().names():
            return pl.DataFrame()
        return trials.filter(pl.col("status") != "error").select(columns).collect()

    def write_csv(self, path: Path) -> None:
        """Every trial, by position, as CSV (streamed from disk for a big sweep)."""
        if self.log is not None and self.log.spilled:
            self.log.by_trial().sink_csv(path)
        else:
            self.trials.write_csv(path)


class Best:
    """The best objective seen so far, for the progress line."""

    def __init__(self, objective: Objective) -> None:
        self.objective, self.value = objective, None

    def add(self, frame: pl.DataFrame) -> float | None:
        # Plain lists, not a Polars filter: a batch holds a few trials (3-7 on 100k-200k bars,
        # the memory budget's), and a filter's query took 2 ms a batch: 0.9 s of a 10.8 s sweep
        # on 2 workers, spent by the process that feeds them, on a 2-core machine.
        if not frame.height:
            return self.value
        for status, value in zip(frame["status"].to_list(), frame["objective"].to_list()):
            if status == "ok" and self.objective.better(value, self.value):
                self.value = value
        return self.value


def say(progress: Progress | None, text: str) -> None:
    """A line for the user beside the progress line (on stderr when there is none)."""
    if progress is not None:
        progress.note(text)
    else:
        print(text, file=sys.stderr, flush=True)


# The fewest combinations a batch is given (if the memory budget allows). Each batch pays for its
# plan (compiling, evaluating, the rows of its results: 1.5-2 ms), and a plan computes the columns
# its combinations share once: the SMA grid of bench/bench_optimize.py (90 combinations, 100k
# bars) took 168 ms in 8 batches of 12, 152 ms in 4, 147 ms in one. Progress moves by batches,
# but a sweep with batches this size is over in under a second.
MIN_BATCH = 32


def batch_size(evaluator: Evaluator, total: int, jobs: int) -> int:
    """Combinations per batch: enough per plan to share indicators, small enough for progress
    (8 batches a worker, unless that makes them smaller than MIN_BATCH)."""
    return max(1, min(evaluator.batch_size(), max(MIN_BATCH, math.ceil(total / (jobs * 8)))))


class LocalSweep:
    """A grid or random sweep in this process and its workers."""

    def __init__(self, evaluator: Evaluator, space: Space, options: SearchOptions, window: Window,
                 workers: Workers, progress: Progress | None) -> None:
        self.evaluator, self.space, self.options, self.window = evaluator, space, options, window
        self.workers, self.progress = workers, progress
        self.best = Best(evaluator.objective)

    def run(self, candidates: Candidates) -> tuple[pl.DataFrame, bool]:
        self.log = TrialLog(self.evaluator.objective)
        try:
            for frame in self.workers.imap(self.batches(candidates), self.window):
                self.log.add(frame)
                self.finished(frame)
                interrupt.check()
        except KeyboardInterrupt:
            return self.log.trials(), True
        return self.log.trials(), False

    def batches(self, candidates: Candidates) -> Iterator[Candidates]:
        size = batch_size(self.evaluator, len(candidates), self.workers.jobs)
        for start in range(0, len(candidates), size):
            yield candidates.take(start, start + size)

    def finished(self, frame: pl.DataFrame) -> None:
        best = self.best.add(frame)
        if self.progress:
            self.progress.update(frame.height, best)
