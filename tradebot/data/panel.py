"""N symbols on one timeline: the data side of a portfolio backtest (docs/execution.md,
"Portfolios").

Each symbol's file is loaded and validated on its own (a failing file is named with its row and
field). The timeline is the union of all their timestamps; a symbol keeps only its own bars, so
a time it has no bar at stays empty (NaN prices) and nothing is ever forward-filled into a
signal. The symbols are kept in name order, the order that breaks ties between equal ranks.
"""
from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import polars as pl

from ..errors import DataError
from ..market.timeframe import infer_interval_ms
from .loader import load_ohlcv

PRICE_NAMES = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Panel:
    """`bars[symbol]`: its own validated bars; `rows[symbol]`: where each of them sits on the
    `timestamps` timeline; `prices[name]`: a (timeline, symbols) matrix, NaN where a symbol has
    no bar."""

    symbols: tuple[str, ...]
    timestamps: pl.Series
    bars: Mapping[str, pl.DataFrame]
    rows: Mapping[str, np.ndarray]
    prices: Mapping[str, np.ndarray]
    interval_ms: int | None

    def spread(self, symbol: str, values: np.ndarray, fill: object) -> np.ndarray:
        """A per-bar array of `symbol` placed on the timeline, `fill` where it has no bar."""
        out = np.full(len(self.timestamps), fill, dtype=values.dtype)
        out[self.rows[symbol]] = values
        return out


def universe_files(pattern: str, base: Path) -> dict[str, Path]:
    """The files a `universe` glob names (relative to `base`), by symbol: the text the last
    wildcard matched (`linear/*/1h.csv` → the folder name, `*_1h.csv` → the name's start,
    `*/*.csv` → the file's stem, so one symbol in two folders is a duplicate); {} for none."""
    full = base / pattern
    found = sorted(Path(p) for p in glob.glob(str(full)))
    matcher = re.compile(_glob_regex(full.as_posix()))
    files: dict[str, Path] = {}
    for path in found:
        match = matcher.fullmatch(path.as_posix())
        symbol = match.groups()[-1] if match and match.groups() else path.stem
        if symbol in files:
            raise DataError(path, f"symbol {symbol!r} appears twice in the universe",
                            hint=f"also from {files[symbol]}: name each symbol once")
        files[symbol] = path
    return files


def _glob_regex(pattern: str) -> str:
    """A glob as a regex whose groups capture what each wildcard matched."""
    out = []
    for part in re.split(r"(\*|\?)", pattern):
        out.append({"*": "([^/]*)", "?": "([^/])"}.get(part, re.escape(part)))
    return "".join(out)


def load_panel(files: Mapping[str, Path]) -> Panel:
    """Load every symbol's file and align them on the union of their timestamps."""
    if not files:
        raise DataError("universe", "the universe is empty", hint="name at least one symbol")
    symbols = tuple(sorted(files))
    bars = {symbol: load_ohlcv(files[symbol], min_rows=2) for symbol in symbols}
    return aligned(bars, _common_interval(bars, files))


def aligned(bars: Mapping[str, pl.DataFrame], interval: int | None) -> Panel:
    """Validated bars of each symbol, aligned on the union of their timestamps."""
    symbols = tuple(sorted(bars))
    timeline = pl.concat([frame.select("timestamp") for frame in bars.values()]).unique().sort("timestamp")
    times = timeline["timestamp"]
    ms = times.dt.epoch("ms").to_numpy()
    rows = {symbol: np.searchsorted(ms, bars[symbol]["timestamp"].dt.epoch("ms").to_numpy())
            for symbol in symbols}
    prices = {}
    for name in PRICE_NAMES:
        matrix = np.full((len(ms), len(symbols)), np.nan)
        for j, symbol in enumerate(symbols):
            matrix[rows[symbol], j] = bars[symbol][name].to_numpy()
        prices[name] = matrix
    return Panel(symbols, times, bars, rows, prices, interval)


def _common_interval(bars: Mapping[str, pl.DataFrame], files: Mapping[str, Path]) -> int | None:
    """The bar interval every symbol shares; a DataError naming two files that differ."""
    seen: dict[int, str] = {}
    for symbol, frame in bars.items():
        interval = infer_interval_ms(frame["timestamp"].dt.epoch("ms").to_numpy())
        if interval is None:
            continue
        other = next(iter(seen.values()), None)
        if seen and interval not in seen:
            first = next(iter(seen))
            raise DataError(files[symbol], f"its bars are {_span(interval)} apart, {other}'s "
                            f"({files[other]}) {_span(first)}",
                            hint="a universe needs one bar interval: resample or drop a file")
        seen.setdefault(interval, symbol)
    return next(iter(seen), None)


def _span(ms: int) -> str:
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"
