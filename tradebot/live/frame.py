"""A paper session's last bars in memory: appended one confirmed bar at a time, the oldest
forgotten once the window moves past them (window.py), numbered from the session's first bar
ever. The plan reads them as a Polars frame (`Frame.polars`); the kernel and the journal by
their numbers.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from ..market.bars import OHLCV_COLUMNS


class Columns:
    """Rows of floats in growable numpy columns (doubling), 8 bytes a value."""

    def __init__(self, width: int) -> None:
        self._data = np.zeros((width, 1024))
        self.count = 0

    def append(self, row: Sequence[float]) -> None:
        if self.count == self._data.shape[1]:
            self._data = np.concatenate([self._data, np.zeros_like(self._data)], axis=1)
        self._data[:, self.count] = row
        self.count += 1

    def values(self) -> np.ndarray:
        return self._data[:, :self.count]

    def drop_first(self, count: int) -> None:
        """Forget the first `count` rows (the buffer keeps its size: it never grows past the
        most bars held at once)."""
        self._data[:, :self.count - count] = self._data[:, count:self.count]
        self.count -= count


class Frame:
    """The session's last bars, numbered from its first bar ever: those before `first` are
    forgotten (window.py) and live on in the journal only. The bars are consecutive (`on_bar`
    refuses a hole), so every bar's start is the first one's plus a whole number of intervals."""

    def __init__(self, interval_ms: int) -> None:
        self._held = Columns(6)
        self.interval_ms = interval_ms
        self.first = 0  # the number of the first bar held
        self.origin_ms: int | None = None  # the start of bar 0
        self.first_close = math.nan  # bar 0's close (the buy-and-hold benchmark)

    @property
    def size(self) -> int:
        """Bars seen since the session began, held or not."""
        return self.first + self._held.count

    @property
    def held(self) -> int:
        return self._held.count

    def append(self, row: Sequence[float]) -> None:
        if self.origin_ms is None:
            self.origin_ms, self.first_close = int(row[0]), float(row[4])
        self._held.append(row)

    def forget_before(self, first: int) -> None:
        self._held.drop_first(first - self.first)
        self.first = first

    def row(self, index: int) -> list[float]:
        values = self._held.values()[:, index - self.first].tolist()
        return [int(values[0]), *values[1:]]

    def last_start(self) -> int | None:
        return int(self._held.values()[0, -1]) if self.held else None

    def last_close(self) -> float:
        return float(self._held.values()[4, -1])

    def timestamps(self) -> pl.Series:
        """Every bar's start since the session began (the held bars' and the forgotten ones')."""
        starts = (self.origin_ms or 0) + np.arange(self.size, dtype=np.int64) * self.interval_ms
        return pl.Series("timestamp", starts).cast(pl.Datetime("ms", "UTC"))

    def polars(self) -> pl.DataFrame:
        """The held bars: the plan's input."""
        data = self._held.values()
        return pl.DataFrame({
            "timestamp": pl.Series(data[0].astype(np.int64)).cast(pl.Datetime("ms", "UTC")),
            **{name: pl.Series(data[i]) for i, name in enumerate(OHLCV_COLUMNS) if i}})
