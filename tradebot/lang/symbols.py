"""Other symbols: `close of BTCUSDT` computes `close` on BTCUSDT's own bars and reads it on the
script's bars (docs/language.md, "Other symbols").

The rules:

- The expression before `of` is evaluated on the other symbol's bars alone, so `sma(close, 20) of
  BTCUSDT` is the 20-bar average of BTCUSDT's closes, whatever the script's bars are.
- Alignment is an as-of join on bar open time with no tolerance: the script's bar opening at t
  reads the other symbol's bar opening at t. Both series have the same interval (the caller loads
  them so: the store at the script's interval, or the universe's files), so that bar closes when
  the script's bar closes and is final by then: no lookahead.
- A time the other symbol has no bar at is missing (a rule reading it does not fire); the last
  value is never carried forward. Bars of the other symbol outside the script's times are unused.

The data layer loads the bars (lang never reads files): `Plan.evaluate(bars, others={symbol:
frame})`. A symbol the caller did not supply is a script error at the `of` that reads it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np
import polars as pl

from ..errors import ScriptError
from .ast import Span
from .diagnostics import Diagnostic, ScriptDiagnostics

if TYPE_CHECKING:
    from .compiler import Plan

_KEY, _OTHER_KEY = "__sym_t", "__sym_t_other"


@dataclass(frozen=True)
class SymbolStep:
    """Computes one other symbol's `of` expressions on its bars and joins them onto the script's
    bars by open time."""

    symbol: str
    plan: Plan  # outputs named as the columns they become in the script's frame
    span: Span  # the first `of` reading this symbol, for errors

    def apply(self, frame: pl.LazyFrame, bars: pl.DataFrame, interval: int | None) -> pl.LazyFrame:
        """`interval`: the script's bar length, which the other symbol's bars share."""
        values = self.plan.lazy(bars, interval=interval, keep=("timestamp",)).with_columns(
            pl.col("timestamp").dt.epoch("ms").alias(_OTHER_KEY)).drop("timestamp")
        keyed = frame.with_columns(pl.col("timestamp").dt.epoch("ms").alias(_KEY))
        joined = keyed.join(values, left_on=_KEY, right_on=_OTHER_KEY, how="left",
                            maintain_order="left")
        return joined.drop(_KEY, _OTHER_KEY, strict=False)


def others_for(steps: tuple[SymbolStep, ...], others: Mapping[str, pl.DataFrame] | None,
               script: tuple[str, str] | None) -> Mapping[str, pl.DataFrame]:
    """The bars of every symbol the steps read; a script error at the first `of` whose symbol the
    caller did not supply (a command that loads no other symbol's data)."""
    others = others or {}
    missing = [step for step in steps if step.symbol not in others]
    if not missing:
        return others
    step = missing[0]
    message = f"`of {step.symbol}` reads another symbol's bars, and none were loaded for it"
    hint = ("`tradebot run` and `tradebot eval` read them from the store or the universe's files; "
            "what evaluated it here was given none")
    if script is None:
        raise ScriptError(f"{message}; {hint}")
    raise ScriptDiagnostics([Diagnostic(message, step.span, hint)], script[0], script[1])


def naive_aligned(values: np.ndarray, other_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """The reference's alignment, by a plain loop: on each of the script's bars, the other
    symbol's value at the same open time, else missing."""
    by_time = {int(t): float(v) for t, v in zip(other_times, values)}
    return np.array([by_time.get(int(t), np.nan) for t in times], dtype=float)
