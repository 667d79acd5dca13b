"""One sweep over one window of the data: grid, random or Bayesian search.

- grid: every feasible combination, in grid order;
- random: `trials` distinct feasible combinations drawn with the seed;
- bayes: Optuna's TPE sampler, seeded (bayes.py).

With `--storage`, trials go to an Optuna study that other processes and machines may be working
on too (shared.py, bayes.py); the result then holds every trial of the study. Ctrl-C stops a
sweep between batches (interrupt.py): what finished is kept (and stays in storage) and reported.
"""
from __future__ import annotations

import time

from .batch import Evaluator, Window
from .bayes import run_bayes
from .parallel import Workers
from .progress import Progress
from .shared import SharedSweep
from .space import Candidates, Space
from .sweep import LocalSweep, SearchOptions, SearchResult

__all__ = ["SearchOptions", "SearchResult", "run_search", "sweep_candidates", "estimate_seconds"]


def run_search(evaluator: Evaluator, space: Space, options: SearchOptions, window: Window, *,
               workers: Workers, progress: Progress | None = None,
               candidates: Candidates | None = None) -> SearchResult:
    """Run the sweep `options` describes on `window` (see the module docstring)."""
    started = time.monotonic()
    log = None
    if options.method == "bayes":
        frame, interrupted = run_bayes(evaluator, space, options, window, workers, progress)
    else:
        if candidates is None:
            candidates = sweep_candidates(space, options)
        sweep = (SharedSweep if options.storage else LocalSweep)(evaluator, space, options, window, workers, progress)
        frame, interrupted = sweep.run(candidates)
        log = None if options.storage else sweep.log  # a shared sweep's trials are the study's
    return SearchResult(frame, interrupted, time.monotonic() - started, log)


def sweep_candidates(space: Space, options: SearchOptions) -> Candidates:
    if options.method == "grid":
        return space.grid()
    return space.sample(options.trials or 0, seed=options.seed)


def estimate_seconds(evaluator: Evaluator, candidates: Candidates, window: Window, *, jobs: int) -> float:
    """Time for a sweep from the measured rate of a small probe batch (workers in parallel)."""
    probe = candidates.take(0, min(len(candidates), 16))
    started = time.perf_counter()
    evaluator.run(probe, window)
    per_trial = (time.perf_counter() - started) / max(1, len(probe))
    return per_trial * len(candidates) / max(1, jobs)
