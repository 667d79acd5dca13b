"""One sweep over one window of the data: grid, random or Bayesian search.

- grid: every feasible combination, in grid order;
- random: `trials` distinct feasible combinations drawn with the seed;
- bayes: Optuna's TPE sampler, seeded. It asks `BAYES_BATCH` trials at a time, evaluates them as
  one batch and tells the results in trial order. The batch size does not depend on `--jobs`,
  so the same seed gives the same trials whatever the number of workers.

With `--storage`, trials go to an Optuna study that other processes and machines may be working
on too; the result then holds every trial of the study (see study.py). Ctrl-C stops a sweep
between batches: what finished is kept (and stays in storage) and reported.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import optuna
import polars as pl

from .batch import Evaluator, Objective, Window, param_columns
from .parallel import Workers
from .progress import Progress
from .space import Candidates, Space
from .study import (ATTR, Claims, frozen_trials, open_storage, open_study, recorded_positions,
                    row_attrs, suggest, trials_frame)

BAYES_BATCH = 8
BAYES_ATTEMPTS = 20  # asks per wanted trial before a tight `where` is declared unsatisfiable
BLOCKS_PER_STUDY = 32  # a shared sweep is claimed in about this many blocks
MAX_BLOCK = 64
WAIT_SECONDS = 0.5  # polling for blocks other workers still run


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


class _Best:
    """The best objective seen so far, for the progress line."""

    def __init__(self, objective: Objective) -> None:
        self.objective, self.value = objective, None

    def add(self, frame: pl.DataFrame) -> float | None:
        for value in frame.filter(pl.col("status") == "ok")["objective"].to_list() if frame.height else ():
            if self.objective.better(value, self.value):
                self.value = value
        return self.value


def run_search(evaluator: Evaluator, space: Space, options: SearchOptions, window: Window, *,
               workers: Workers, progress: Progress | None = None,
               candidates: Candidates | None = None) -> SearchResult:
    """Run the sweep `options` describes on `window` (see the module docstring)."""
    started = time.monotonic()
    if options.method == "bayes":
        frame, interrupted = _bayes(evaluator, space, options, window, workers, progress)
    else:
        if candidates is None:
            candidates = sweep_candidates(space, options)
        sweep = _Shared if options.storage else _Local
        frame, interrupted = sweep(evaluator, space, options, window, workers, progress).run(candidates)
    return SearchResult(frame, interrupted, time.monotonic() - started)


def sweep_candidates(space: Space, options: SearchOptions) -> Candidates:
    if options.method == "grid":
        return space.grid()
    return space.sample(options.trials or 0, seed=options.seed)


def batch_size(evaluator: Evaluator, total: int, jobs: int) -> int:
    """Combinations per batch: enough per plan to share indicators, small enough for progress."""
    return max(1, min(evaluator.batch_size(), max(8, math.ceil(total / (jobs * 8)))))


class _Local:
    """A grid or random sweep in this process and its workers."""

    def __init__(self, evaluator: Evaluator, space: Space, options: SearchOptions, window: Window,
                 workers: Workers, progress: Progress | None) -> None:
        self.evaluator, self.space, self.options, self.window = evaluator, space, options, window
        self.workers, self.progress = workers, progress
        self.best = _Best(evaluator.objective)

    def run(self, candidates: Candidates) -> tuple[pl.DataFrame, bool]:
        frames: list[pl.DataFrame] = []
        try:
            for frame in self.workers.imap(self.batches(candidates), self.window):
                frames.append(frame)
                self.finished(frame)
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


class _Shared(_Local):
    """A grid or random sweep shared through storage: blocks claimed atomically, trials recorded."""

    def run(self, candidates: Candidates) -> tuple[pl.DataFrame, bool]:
        storage = open_storage(self.options.storage)  # type: ignore[arg-type]
        self.study = open_study(name=self.options.study, objective=self.evaluator.objective,
                                fingerprint=self.options.fingerprint, storage=storage)
        self.claims = Claims(storage, self.options.study)
        self.size = min(MAX_BLOCK, max(1, math.ceil(len(candidates) / BLOCKS_PER_STUDY)))
        self.owned: set[int] = set()
        _, interrupted = super().run(candidates)
        if interrupted:
            self.claims.release(self.owned)
        return trials_frame(self.study, self.space.dims), interrupted

    def batches(self, candidates: Candidates) -> Iterator[Candidates]:
        """Blocks this process claims; then, until every block is done, the blocks of owners that
        stopped renewing (so the study ends complete even if another worker died)."""
        blocks = range(math.ceil(len(candidates) / self.size))
        done, live = self.claims.settled()
        yield from self._claimed(candidates, [b for b in blocks if b not in done and b not in live])
        while True:
            done, live = self.claims.settled()
            waiting = [b for b in blocks if b not in done and b not in self.owned]
            if not waiting:
                return
            yield from self._claimed(candidates, [b for b in waiting if b not in live])
            time.sleep(WAIT_SECONDS)

    def _claimed(self, candidates: Candidates, blocks: list[int]) -> Iterator[Candidates]:
        recorded = recorded_positions(self.study)
        for block in blocks:
            if not self.claims.claim(block):
                continue
            part = candidates.take(block * self.size, (block + 1) * self.size)
            todo = part.select(~np.isin(part.positions, list(recorded)))
            if len(todo) == 0:  # recorded by an owner that died before marking the block done
                self.claims.finish(block)
                continue
            self.owned.add(block)
            yield todo

    def finished(self, frame: pl.DataFrame) -> None:
        self.study.add_trials(frozen_trials(frame, self.space.dims))
        block = int(frame["trial"][0]) // self.size
        self.claims.finish(block)
        self.owned.discard(block)
        super().finished(frame)


def _bayes(evaluator: Evaluator, space: Space, options: SearchOptions, window: Window,
           workers: Workers, progress: Progress | None) -> tuple[pl.DataFrame, bool]:
    sampler = optuna.samplers.TPESampler(seed=options.seed, multivariate=True)
    storage = open_storage(options.storage) if options.storage else None
    study = open_study(name=options.study, objective=evaluator.objective,
                       fingerprint=options.fingerprint, storage=storage, sampler=sampler)
    wanted = options.trials or 0
    evaluated = len(recorded_positions(study))
    best = _Best(evaluator.objective)
    if evaluated:  # a resumed study: its best so far
        best.add(trials_frame(study, space.dims))
    asked: list[optuna.Trial] = []
    try:
        for _ in range(wanted * BAYES_ATTEMPTS):
            if evaluated >= wanted:
                break
            asked = [study.ask() for _ in range(min(BAYES_BATCH, wanted - evaluated))]
            frame = _bayes_batch(study, asked, space, evaluator, window, workers)
            asked = []
            evaluated += frame.height
            if progress:
                progress.update(frame.height, best.add(frame))
    except KeyboardInterrupt:
        for trial in asked:  # asked but not finished: closed as failed, the study stays usable
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        return trials_frame(study, space.dims), True
    return trials_frame(study, space.dims), False


def _bayes_batch(study: optuna.Study, asked: list[optuna.Trial], space: Space, evaluator: Evaluator,
                 window: Window, workers: Workers) -> pl.DataFrame:
    """Suggest, prune infeasible combinations unrun, evaluate the rest, tell every result."""
    values = [suggest(trial, space.dims) for trial in asked]
    columns = {d.name: np.array([v[d.name] for v in values], dtype=np.float64) for d in space.dims}
    feasible = space.feasible(columns)
    for trial, ok in zip(asked, feasible):
        if not ok:
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    numbers = np.array([t.number for t in asked], dtype=np.int64)
    indices = space.indices_of(columns) if space.is_discrete else np.full(len(asked), -1, dtype=np.int64)
    chosen = Candidates(numbers, indices, columns).select(feasible)
    frame = workers.evaluate(chosen, window) if len(chosen) else pl.DataFrame()
    by_number = {t.number: t for t in asked}
    for row in frame.iter_rows(named=True):
        trial = by_number[row["trial"]]
        trial.set_user_attr(ATTR, row_attrs(row))
        if row["status"] == "ok":
            study.tell(trial, row["objective"])
        else:
            few = row["status"] == "few_trades"
            study.tell(trial, state=optuna.trial.TrialState.PRUNED if few else optuna.trial.TrialState.FAIL)
    return frame


def estimate_seconds(evaluator: Evaluator, candidates: Candidates, window: Window, *, jobs: int) -> float:
    """Time for a sweep from the measured rate of a small probe batch (workers in parallel)."""
    probe = candidates.take(0, min(len(candidates), 16))
    started = time.perf_counter()
    evaluator.run(probe, window)
    per_trial = (time.perf_counter() - started) / max(1, len(probe))
    return per_trial * len(candidates) / max(1, jobs)
