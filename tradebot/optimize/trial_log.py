"""Every trial of a sweep, in memory while few, streamed to disk when many, with the best kept.

A sweep of 100,000 trials has about 40 numbers per trial; kept as frames, then concatenated and
sorted, that is several copies of everything at the end of the sweep, and the report would then
hold every row as Python objects. So a `TrialLog` keeps the batches in memory only up to
IN_MEMORY_ROWS trials; beyond that it writes each batch to a Parquet file in a temporary folder
(deleted with the log) and keeps in memory only the KEPT best distinct trials, merged batch by
batch. The report ranks those; the counts, the deflated Sharpe ratio and `trials.csv` read the
files (`SearchResult` in sweep.py says which).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from .batch import Objective, param_columns

IN_MEMORY_ROWS = 20_000  # a sweep up to this many trials keeps them all in memory (as before)
KEPT = 1_000  # best distinct trials kept in memory beyond that (what the report ranks and shows)


class TrialLog:
    """The trials of one sweep, as batches arrive (see the module docstring)."""

    def __init__(self, objective: Objective) -> None:
        self.objective = objective
        self.batches: list[pl.DataFrame] = []
        self.count = 0
        self.best = pl.DataFrame()
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._files: list[Path] = []
        self._spans: list[tuple[int, int]] = []  # each file's first and last trial

    @property
    def spilled(self) -> bool:
        """Whether the trials live on disk (only the best are in memory)."""
        return self._folder is not None

    def add(self, frame: pl.DataFrame) -> None:
        if frame.is_empty():
            return
        self.count += frame.height
        if self._folder is None:
            self.batches.append(frame)
            if self.count <= IN_MEMORY_ROWS:
                return
            self._folder = tempfile.TemporaryDirectory(prefix="tradebot-trials-")
            frames, self.batches = self.batches, []
        else:
            frames = [frame]
        for batch in frames:  # one file per batch: each a run of trials (see `by_trial`)
            batch = batch.sort("trial")
            path = Path(self._folder.name) / f"{len(self._files):06d}.parquet"
            batch.write_parquet(path)
            self._files.append(path)
            self._spans.append((batch["trial"][0], batch["trial"][-1]))
        self.best = keep_best(pl.concat([self.best, *frames], how="diagonal_relaxed"), self.objective, KEPT)

    def trials(self) -> pl.DataFrame:
        """Every trial by position while in memory; once spilled, the best KEPT by position."""
        frames = self.batches if not self.spilled else [self.best]
        if not frames or all(f.is_empty() for f in frames):
            return pl.DataFrame()
        return pl.concat(frames, how="diagonal_relaxed").sort("trial")

    def by_trial(self) -> pl.LazyFrame:
        """Every trial, by position. Once spilled, a sort of every trial would hold them all in
        memory at once (140 MB at 100,000 trials, the peak of the whole run); but each file is
        sorted and the batches are runs of positions, so the files, put in order of their first
        trial, are already in order and stream straight through. Batches whose runs interleave
        (never seen; possible only if a batch were not a run) fall back to the sort."""
        if not self.spilled:
            return self.trials().lazy()
        order = sorted(range(len(self._files)), key=lambda i: self._spans[i])
        if any(self._spans[a][1] >= self._spans[b][0] for a, b in zip(order, order[1:])):
            return self.scan().sort("trial")
        return pl.concat([pl.scan_parquet(self._files[i]) for i in order], how="diagonal_relaxed")

    def scan(self) -> pl.LazyFrame:
        """Every trial (from the files once spilled), unsorted."""
        if not self.spilled:
            return self.trials().lazy()
        return pl.concat([pl.scan_parquet(p) for p in self._files], how="diagonal_relaxed")


def keep_best(frame: pl.DataFrame, objective: Objective, rows: int | None) -> pl.DataFrame:
    """The `rows` (None: all) best distinct param sets of `frame` with a valid objective, best
    first (ties: the earlier trial).

    Bayesian and random search may draw the same combination more than once; it is the same
    backtest, so it is ranked once (as its earliest trial) rather than filling the top table
    with copies."""
    if frame.is_empty() or "objective" not in frame.columns:
        return frame.clear()
    ok = frame.filter(pl.col("status") == "ok").sort(["objective", "trial"], descending=[objective.maximize, False])
    ranked = ok.unique(subset=param_columns(ok), keep="first", maintain_order=True)
    return ranked if rows is None else ranked.head(rows)
