"""Evaluation batches in worker processes, or in this process for `--jobs 1`.

Workers start with the "spawn" method on every platform, so Linux behaves as Windows and macOS do
(no state inherited by fork). Each worker builds its Evaluator once, from a picklable
`EvaluatorSpec` (script text and bars), then evaluates the batches it is sent. Workers ignore
Ctrl-C: the parent notes it (interrupt.py), cancels the batches not started and reports what
finished; with `--jobs 1` the batch running in this process is cut short.

Results come back in completion order; callers order trials by their position, so a sweep's
results do not depend on the number of workers.
"""
from __future__ import annotations

import math
import multiprocessing
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Iterable, Iterator

import polars as pl

from . import interrupt
from .batch import Evaluator, EvaluatorSpec, Window
from .space import Candidates

IN_FLIGHT_PER_JOB = 2  # batches queued per worker: enough to keep it busy, few to cancel

_worker_evaluator: Evaluator | None = None


def _start_worker(kind: type[Evaluator], spec: EvaluatorSpec) -> None:
    # SIGINT exists on Windows too; ignoring it leaves Ctrl-C to the parent, which stops the pool.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    global _worker_evaluator
    _worker_evaluator = kind(spec)  # an Evaluator, or a portfolio's (optimize/portfolio.py)


def _evaluate(candidates: Candidates, window: Window) -> pl.DataFrame:
    assert _worker_evaluator is not None, "worker not initialised"
    return _worker_evaluator.run(candidates, window)


def _nothing() -> None:
    """A task that only makes the pool start a worker."""


@contextmanager
def _ctrl_c_deferred() -> Iterator[None]:
    """A Ctrl-C while the workers start takes effect once they have started.

    Starting a worker means writing its start-up data (the script and the bars) into a pipe that
    the new process reads only once Python is up in it, up to a second on a busy machine. A
    KeyboardInterrupt raised in the middle of that write cuts it short, and the worker dies with a
    traceback ("pickle data was truncated"). So meanwhile Ctrl-C is only noted, and raised as the
    usual KeyboardInterrupt once every worker has its data. On POSIX, SIGINT is also blocked in
    this thread while the workers are forked from it: they inherit the block, so a terminal's
    Ctrl-C, which reaches every process of the group, cannot stop one with a traceback while it
    imports either (`_start_worker` then ignores Ctrl-C for good). Only the main thread may change
    signal handlers; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    noted: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: noted.append(signum))
    can_block = hasattr(signal, "pthread_sigmask")  # not on Windows
    if can_block:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        if can_block:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a held one is noted now
        signal.signal(signal.SIGINT, previous)
    if noted:
        raise KeyboardInterrupt


# Starting one worker: spawning Python, importing Polars, numba and tradebot, receiving the bars.
# Measured 1.5 s on a quiet 2-core machine and 3.8 s under load (docs/optimize.md, "Jobs"); the
# larger figure keeps the choice on the safe side: never slower than one job.
WORKER_START_SECONDS = 4.0
WORKER_STOP_SECONDS = 1.5  # workers exiting at the end of the sweep (1.3 s measured, up to 3.8 s under load)
MIN_GAIN = 0.2  # workers must save at least this share of the one-process time
PROBE = 3  # combinations timed in this process: 1 (with the one-off warm-up), then 2


@dataclass(frozen=True)
class JobPlan:
    """How many processes a sweep uses, and why fewer than asked."""

    jobs: int
    why_fewer: str | None = None


def plan_jobs(evaluator: Evaluator, probe: Candidates, window: Window, *, trials: float, jobs: int) -> JobPlan:
    """`jobs`, or 1 when the sweep is too short to pay for starting workers.

    The cost of a trial is measured on `probe` in this process (which warms this process up for
    the review anyway); `trials` is how many the sweep will run, in units of `window`'s length."""
    usable = min(jobs, os.cpu_count() or 1)
    if jobs <= 1 or usable <= 1:
        return JobPlan(1, None if jobs <= 1 else "this machine has one CPU")
    warm_up, per_trial = _trial_cost(evaluator, probe, window)
    alone = per_trial * trials
    together = alone / usable + WORKER_START_SECONDS * math.ceil(jobs / usable) + warm_up + WORKER_STOP_SECONDS
    if together <= alone * (1 - MIN_GAIN):
        return JobPlan(jobs)
    return JobPlan(1, f"the sweep is too short to pay for {jobs} workers: about {alone:.1f} s of work "
                      f"({per_trial * 1000:.3g} ms a trial) against {together:.1f} s with workers, "
                      f"{WORKER_START_SECONDS + warm_up:.1f} s of it starting them")


def _trial_cost(evaluator: Evaluator, probe: Candidates, window: Window) -> tuple[float, float]:
    """(one-off warm-up, seconds per trial) measured in this process."""
    started = time.perf_counter()
    evaluator.run(probe.take(0, 1), window)
    first = time.perf_counter() - started
    rest = probe.take(1, len(probe))
    if len(rest) == 0:
        return 0.0, first
    started = time.perf_counter()
    evaluator.run(rest, window)
    per_trial = (time.perf_counter() - started) / len(rest)
    return max(0.0, first - per_trial), per_trial


class Workers:
    """`jobs` processes evaluating batches (or the local evaluator when jobs is 1)."""

    def __init__(self, local: Evaluator, *, jobs: int) -> None:
        self.local = local
        self.jobs = max(1, jobs)
        self.pool: ProcessPoolExecutor | None = None
        if self.jobs > 1:
            try:
                with _ctrl_c_deferred():
                    self.pool = ProcessPoolExecutor(max_workers=self.jobs,
                                                    mp_context=multiprocessing.get_context("spawn"),
                                                    initializer=_start_worker, initargs=(type(local), local.spec))
                    for _ in range(self.jobs):  # the pool starts a worker per task it is given
                        self.pool.submit(_nothing)
            except KeyboardInterrupt:
                self.close()
                raise

    def imap(self, batches: Iterable[Candidates], window: Window) -> Iterator[pl.DataFrame]:
        """Each batch's trial frame, as batches finish."""
        if self.pool is None:
            for batch in batches:
                with interrupt.cut_short():
                    frame = self.local.run(batch, window)
                yield frame
            return
        source = iter(batches)
        pending: set[Future] = set()
        self._top_up(pending, source, window)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
            self._top_up(pending, source, window)

    def evaluate(self, candidates: Candidates, window: Window) -> pl.DataFrame:
        """All of `candidates`, split across the workers, as one frame in candidate order."""
        if len(candidates) == 0:
            return self.local.run(candidates, window)
        share = -(-len(candidates) // self.jobs)
        parts = [candidates.take(i, i + share) for i in range(0, len(candidates), share)]
        return pl.concat(list(self.imap(parts, window)), how="diagonal_relaxed").sort("trial")

    def _top_up(self, pending: set[Future], source: Iterator[Candidates], window: Window) -> None:
        assert self.pool is not None
        while len(pending) < self.jobs * IN_FLIGHT_PER_JOB:
            batch = next(source, None)
            if batch is None:
                return
            pending.add(self.pool.submit(_evaluate, batch, window))

    def close(self) -> None:
        """Stop the workers; batches not started are cancelled, running ones finish first."""
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
