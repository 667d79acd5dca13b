"""A grid or random sweep shared through storage by processes on one or many machines.

The candidates are cut into blocks; a process claims a block (claims.py), evaluates it, records
its trials as finished Optuna trials and marks it done. When no block is left to claim, it waits
for the blocks other live processes hold, saying which and whose, and takes over any whose owner
is gone; so every process ends with, and reports, the complete study.
"""
from __future__ import annotations

import math
import time
from typing import Iterator

import numpy as np
import polars as pl

from . import interrupt
from .claims import Claim, Claims, waiting_message
from .space import Candidates
from .study import frozen_trials, open_storage, open_study, recorded_positions, trials_frame
from .sweep import LocalSweep, say

BLOCKS_PER_STUDY = 32  # a shared sweep is claimed in about this many blocks
MAX_BLOCK = 64
WAIT_SECONDS = 0.5  # polling for blocks other workers still run
SAY_WAITING_EVERY = 10.0  # seconds between two "waiting for ..." lines about the same blocks


class SharedSweep(LocalSweep):
    """A grid or random sweep shared through storage (see the module docstring)."""

    claims: Claims

    def run(self, candidates: Candidates) -> tuple[pl.DataFrame, bool]:
        storage = open_storage(self.options.storage)  # type: ignore[arg-type]
        self.study = open_study(name=self.options.study, objective=self.evaluator.objective,
                                fingerprint=self.options.fingerprint, storage=storage)
        self.size = min(MAX_BLOCK, max(1, math.ceil(len(candidates) / BLOCKS_PER_STUDY)))
        self.owned: set[int] = set()
        self._said: tuple[float, tuple[int, ...]] = (-math.inf, ())
        self._resumed(candidates)
        with Claims(storage, self.options.study) as self.claims:
            _, interrupted = super().run(candidates)
            if interrupted:
                self.claims.release(self.owned)
        return trials_frame(self.study, self.space.dims), interrupted

    def _resumed(self, candidates: Candidates) -> None:
        """A resumed study: the progress line starts from the trials already recorded."""
        if self.progress is None:
            return
        recorded = trials_frame(self.study, self.space.dims)
        if recorded.height:
            mine = recorded.filter(pl.col("trial").is_in(candidates.positions.tolist()))
            self.progress.resume(mine.height, self.best.add(mine))

    def batches(self, candidates: Candidates) -> Iterator[Candidates]:
        """Blocks this process claims; then, until every block is done, the blocks of owners that
        are gone (so the study ends complete even if another worker died)."""
        blocks = range(math.ceil(len(candidates) / self.size))
        done, live = self.claims.settled()
        yield from self._claimed(candidates, [b for b in blocks if b not in done and b not in live])
        while True:
            done, live = self.claims.settled()
            waiting = [b for b in blocks if b not in done and b not in self.owned]
            if not waiting:
                return
            free = [b for b in waiting if b not in live]
            if free:
                yield from self._claimed(candidates, free)
            else:
                self._say_waiting([live[b] for b in waiting])
            interrupt.check()
            time.sleep(WAIT_SECONDS)

    def _say_waiting(self, held: list[Claim]) -> None:
        now, blocks = time.time(), tuple(c.block for c in held)
        last, before = self._said
        if blocks != before or time.monotonic() - last >= SAY_WAITING_EVERY:
            self._said = (time.monotonic(), blocks)
            say(self.progress, waiting_message(held, now=now))

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
