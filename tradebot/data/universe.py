"""Symbols read from the candle store: `universe BTCUSDT, ETHUSDT` and `close of BTCUSDT`.

The store holds `<root>/<category>/<SYMBOL>/<interval>.csv` (data/store.py). Which category: the
caller's (`--category`, else `[bybit] category`, default linear, as `tradebot fetch` uses). Which
interval: the caller's (`--interval`), else the one interval every named symbol has in the store;
a symbol with several, or symbols whose intervals differ, need the choice made (docs/execution.md,
"Portfolios").
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import DataError
from ..market.intervals import INTERVALS


@dataclass(frozen=True)
class StoreUniverse:
    """The store files of a list of symbols, all at one interval."""

    files: Mapping[str, Path]
    interval: str


def stored_intervals(folder: Path) -> list[str]:
    """The intervals a symbol's store folder holds (`1h.csv` -> 1h; sidecars are not intervals)."""
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.csv") if p.stem in INTERVALS)


def store_files(root: Path, category: str, symbols: Sequence[str], interval: str | None, *,
                fetch_hint: str) -> StoreUniverse:
    """The file of each symbol at one interval. `fetch_hint`: the command that gets what is
    missing, shown when a symbol (or the interval of one) is not in the store."""
    if not symbols:
        raise DataError("universe", "the universe is empty", hint="name at least one symbol")
    held = {symbol: stored_intervals(root / category / symbol) for symbol in symbols}
    chosen = interval or _one_interval(root / category, held)
    missing = [symbol for symbol in symbols if chosen not in held[symbol]]
    if missing:
        first = root / category / missing[0]
        others = f" (also missing: {', '.join(missing[1:])})" if len(missing) > 1 else ""
        has = f"; it has {', '.join(held[missing[0]])}" if held[missing[0]] else ""
        raise DataError(first / f"{chosen}.csv", f"{missing[0]} has no {chosen} candles in the store"
                        f"{has}{others}", hint=f"get them with `{fetch_hint.format(interval=chosen)}`")
    return StoreUniverse({s: root / category / s / f"{chosen}.csv" for s in symbols}, chosen)


def _one_interval(folder: Path, held: Mapping[str, list[str]]) -> str:
    """The interval every symbol has, when no interval was asked for."""
    kinds = {tuple(intervals) for intervals in held.values() if intervals}
    if not kinds:
        return "1h"  # nothing stored at all: the error names the files a 1h run would read
    several = next((s for s, intervals in held.items() if len(intervals) > 1), None)
    if several is not None:
        raise DataError(folder / several, f"{several} has {', '.join(held[several])} candles in the "
                        "store: which interval?", hint="choose one with --interval, e.g. "
                        f"`--interval {held[several][0]}`")
    if len(kinds) > 1:
        listed = ", ".join(f"{s} {i[0]}" for s, i in held.items() if i)
        raise DataError(folder, f"the symbols have different bar intervals in the store: {listed}",
                        hint="a universe needs one interval: choose it with --interval and fetch "
                        "the symbols that lack it")
    return next(iter(kinds))[0]
