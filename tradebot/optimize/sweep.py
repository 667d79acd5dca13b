"""What every search shares: its options, its result, and a sweep of candidates in this process
and its workers (grid and random without storage; the base of the shared sweep in shared.py)."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from typing import Iterator

import polars as pl

from . import interrupt
from .batch import Evaluator, Objective, Window, param_columns
from .parallel import Workers
from .progress import Progress
from .space import Candidates, Space


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
    """Every trial of a sweep (one row each, ordered by position) and how the sweep ended."""

    trials: pl.DataFrame
    interrupted: bool
    elapsed: float

    def ranked(self, objective: Objective) -> pl.DataFrame:
        """The distinct param sets with a valid objective, best first (ties: the earlier trial).

        Bayesian and random search may draw the same combination more than once; it is the same
        backtest, so it is ranked once (as its earliest trial) rather than filling the top table
        with copies."""
        if self.trials.is_empty() or "objective" not in self.trials.columns:
            return self.trials.clear()
        ok = self.trials.filter(pl.col("status") == "ok")
        ranked = ok.sort(["objective", "trial"], descending=[objective.maximize, False])
        return ranked.unique(subset=param_columns(ranked), keep="first", maintain_order=True)

    def best(self, objective: Objective) -> dict | None:
        ranked = self.ranked(objective)
        return ranked.row(0, named=True) if ranked.height else None


class Best:
    """The best objective seen so far, for the progress line."""

    def __init__(self, objective: Objective) -> None:
        self.objective, self.value = objective, None

    def add(self, frame: pl.DataFrame) -> float | None:
        for value in frame.filter(pl.col("status") == "ok")["objective"].to_list() if frame.height else ():
            if self.objective.better(value, self.value):
                self.value = value
        return self.value


def say(progress: Progress | None, text: str) -> None:
    """A line for the user beside the progress line (on stderr when there is none)."""
    if progress is not None:
        progress.note(text)
    else:
        print(text, file=sys.stderr, flush=True)


def batch_size(evaluator: Evaluator, total: int, jobs: int) -> int:
    """Combinations per batch: enough per plan to share indicators, small enough for progress."""
    return max(1, min(evaluator.batch_size(), max(8, math.ceil(total / (jobs * 8)))))


class LocalSweep:
    """A grid or random sweep in this process and its workers."""

    def __init__(self, evaluator: Evaluator, space: Space, options: SearchOptions, window: Window,
                 workers: Workers, progress: Progress | None) -> None:
        self.evaluator, self.space, self.options, self.window = evaluator, space, options, window
        self.workers, self.progress = workers, progress
        self.best = Best(evaluator.objective)

    def run(self, candidates: Candidates) -> tuple[pl.DataFrame, bool]:
        frames: list[pl.DataFrame] = []
        try:
            for frame in self.workers.imap(self.batches(candidates), self.window):
                frames.append(frame)
                self.finished(frame)
                interrupt.check()
        except KeyboardInterrupt:
            return self.result(frames), True
        return self.result(frames), False

    def batches(self, candidates: Candidates) -> Iterator[Candidates]:
        size = batch_size(self.evaluator, len(candidates), self.workers.jobs)
        for start in range(0, len(candidates), size):
            yield candidates.take(start, start + size)

    def finished(self, frame: pl.DataFrame) -> None:
        best = self.best.add(frame)
        if self.progress:
            self.progress.update(frame.height, best)

    def result(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        if not frames:
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed").sort("trial")
