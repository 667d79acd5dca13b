"""Position state: the trade the backtest holds, readable in rules and risk values.

These are not columns of the plan: the position exists only inside the engine's run, bar by bar
(lang/stateful/position.py compiles what reads them into a program the engine runs; docs/
language.md, "Position state"). Every value is as of the bar's close, after its fills, before
its orders. Lowering one to a whole column is refused with the reason; the reference evaluator
reads them from the position arrays a naive backtest hands it (lang/reference.py).
"""
from __future__ import annotations

from typing import Any

from ...errors import UsageError
from ..builtin_spec import Builtin, series
from ..types import NUMBER_SERIES, Kind, Type

CATEGORY = "position"
SOURCE = "position state, as of the bar's close (TradingView strategy.*)"
STRING_SERIES = Type(Kind.STRING, True)


def _not_a_column(name: str):
    def lower(*_: Any) -> Any:
        raise UsageError(f"`{name}` is position state: it exists only inside a backtest's run, bar by "
                         "bar, so it cannot be computed as a series on its own (use it in a rule or a "
                         "risk value)")
    return lower


def _from_run(name: str):
    def reference(*_: Any) -> Any:
        raise ValueError(f"`{name}` needs the position arrays of a run (reference.evaluate(position=...))")
    return reference


def _value(name: str, doc: str, example: str, returns: Type = NUMBER_SERIES) -> Builtin:
    return Builtin(name, (), returns, _not_a_column(name), _from_run(name), doc, example, CATEGORY,
                   is_series=True, source=SOURCE)


def _tracked(name: str, doc: str, example: str) -> Builtin:
    return Builtin(name, (series("src", "the series followed since the entry"),), NUMBER_SERIES,
                   _not_a_column(name), _from_run(name), doc, example, CATEGORY, source=SOURCE)


BUILTINS = (
    _value("position_side", "The side held at the bar's close: 1 long, -1 short, 0 flat.",
           "position_side == 0"),
    _value("position_size", "The quantity held at the bar's close (0 when flat).",
           "position_size > 0"),
    _value("entry_price", "The average fill price of the open entries, weighted by quantity "
           "(costs included); missing while flat.", "close < entry_price - 2 * atr(14)"),
    _value("entry_bar", "The bar (`bar_index`) the position was opened on: its first entry since "
           "flat, kept when entries are added; missing while flat.", "bar_index - entry_bar"),
    _value("entry_time", "The open time (`time`, ms) of the bar the position was opened on; missing "
           "while flat.", "time - entry_time >= 86400000"),
    _value("bars_since_entry", "Bars since the position was opened: 0 on its entry bar; missing "
           "while flat.", "bars_since_entry >= 48"),
    _tracked("highest_since_entry", "The highest `src` from the entry bar to this bar; missing "
             "while flat.", "close < highest_since_entry(high) - 3 * atr(22)"),
    _tracked("lowest_since_entry", "The lowest `src` from the entry bar to this bar; missing "
             "while flat.", "close > lowest_since_entry(low) + 3 * atr(22)"),
    _value("open_profit", "The open entries' profit at this close, in cash: side x quantity x "
           "(close - entry price), less the entry fees paid; missing while flat.",
           "open_profit < -500"),
    _value("open_profit_pct", "`open_profit` as a fraction of the entries' cost (quantity x entry "
           "price): compare it with a percentage, `open_profit_pct < 0.5%`; missing while flat.",
           "bars_since_entry >= 48 and open_profit_pct < 0.5%"),
    _value("open_entries", "How many entries are open (pyramiding); 0 when flat.", "open_entries < 3"),
    _value("bars_since_exit", "Bars since the last exit filled (0 on its bar); missing before "
           "the first exit.", "bars_since_exit > 10"),
    _value("last_exit_reason", "Why the last trade closed, compared with a string: \"signal\", "
           "\"reversal\", \"stop\", \"target\", \"trailing\", \"time\", \"liquidation\"; missing "
           "before the first exit.", 'last_exit_reason != "stop"', STRING_SERIES),
)

