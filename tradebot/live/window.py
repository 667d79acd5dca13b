"""How many bars a session keeps in memory, and when it may forget the oldest ones.

A session decides each bar from the compiled plan's last row, and `paper verify` compares that
with a backtest over every bar since the session began. Evaluating the plan over fewer bars (a
window that starts later) changes nothing for a value that reads a fixed number of bars (a
shift, a highest, a sum...), once the window holds its warm-up; but three things depend on where
the data starts:

* a recursive filter (EMA, Wilder's RSI and ATR, KAMA...) starts from another seed: the
  difference shrinks by (1 - alpha) a bar, below one unit in the last place after
  `ceil(log(2^-53) / log(1 - alpha))` bars, and the two runs then meet bit for bit;
* the window sums are computed in blocks of n bars counted from the first bar (sums.py): the
  same window summed from another split rounds differently, unless the start moved by a
  multiple of n;
* a few values never forget (a running total, `barssince` an event long ago, a stateful series,
  `bar_index`): a script that reads one (`NEVER_FORGETS`, `barssince`-like builtins that wait for
  an event, any recursion of the script's own) keeps every bar, as it must. This is decided from
  the script, not from the check below: `bar_index == 150` is false on the last rows from both
  first bars, and true on different bars later.

So the session keeps `Retention.keep` bars: the warm-up plus twice the convergence horizon of the
slowest filter the plan could hold (alpha = 1 / its longest window: an EMA's 2 / (n + 1) and
Wilder's 1 / n are both faster). When it holds `keep + step` bars it proposes to forget the
oldest `step` (a multiple of every window, so the block sums keep their splits) and checks the
claim instead of trusting it: the plan with EVERY intermediate column, evaluated from the old
first bar and from the new one, must agree bit for bit on the last `horizon` rows. Only then does
the first bar move (journaled, so a resumed session moves it at the same bar). If they disagree,
the horizon doubles and nothing is forgotten: a script that never forgets (a `cum`) keeps every
bar, as it must, after a logarithmic number of tries.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import polars as pl

from ..lang import ir
from ..lang.compiler import Plan
from ..lang.lookback import lookback

ULP_BITS = 53  # float64: a relative difference below 2^-53 is less than one unit in the last place
NEVER_FORGETS = ("bar_index", "cum", "latch")  # besides the builtins that wait for an event


def convergence_horizon(alpha: float) -> int:
    """Bars after which a difference in a filter's seed is below one unit in the last place."""
    return math.ceil(math.log(2.0 ** -ULP_BITS) / math.log1p(-alpha)) if 0 < alpha < 1 else 1


@dataclass(frozen=True)
class Retention:
    """`keep` bars are kept; `step` (a multiple of every window) are forgotten at a time, once
    the last `horizon` rows of every column agree from the old and the new first bar."""

    warmup: int
    horizon: int
    period: int
    never_forgets: tuple[str, ...] = ()  # what the script reads that keeps every bar

    @classmethod
    def of(cls, plan: Plan, nodes: Sequence[ir.Node], interval_ms: int) -> Retention:
        """For the plan computing `nodes` (the engine's inputs) on bars of `interval_ms`."""
        ratio = math.lcm(*(max(1, -(-(step.frame.ms or interval_ms) // interval_ms)) for step in plan.steps))
        longest = max((use.bars for use in plan.windows), default=1) * ratio
        period = math.lcm(*(max(1, use.bars) for use in plan.windows)) * ratio
        needs = lookback(nodes)
        return cls(needs.bars(interval_ms), convergence_horizon(1.0 / max(2, longest)), period,
                   tuple(sorted({*needs.open_ended, *_never_forgets(nodes)})))

    @property
    def keep(self) -> int:
        return self.warmup + 2 * self.horizon

    @property
    def step(self) -> int:
        return self.period * max(1, -(-self.keep // self.period))

    def longer(self) -> Retention:
        """After a failed check: twice the horizon."""
        return replace(self, horizon=2 * self.horizon)


def _never_forgets(nodes: Sequence[ir.Node]) -> set[str]:
    found: set[str] = set()
    seen: set[int] = set()
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ir.Call) and node.name in NEVER_FORGETS:
            found.add(node.name)
        if isinstance(node, ir.Recurrence):
            found.add("a recursion (" + ", ".join(node.names) + ")")
        stack.extend(ir.children(node))
    return found


def same_state(plan: Plan, held: pl.DataFrame, forget: int, rows: int, *, interval_ms: int) -> bool:
    """Whether the plan over `held` and over `held` without its first `forget` bars agree bit for
    bit (NaN equal to NaN) in every column, intermediate ones included, on the last `rows` rows."""
    old = plan.evaluate(held, interval=interval_ms, every_column=True).tail(rows)
    new = plan.evaluate(held.slice(forget), interval=interval_ms, every_column=True).tail(rows)
    if old.columns != new.columns:
        return False
    return all(_identical(old[name], new[name]) for name in old.columns)


def _identical(a: pl.Series, b: pl.Series) -> bool:
    if a.dtype != b.dtype or not a.is_null().equals(b.is_null()):  # a null is not a NaN
        return False
    if a.dtype.is_float():
        x, y = a.to_numpy(), b.to_numpy()
        # Bits, not values: -0.0 and 0.0 differ in the bits a later division can expose.
        return bool(np.array_equal(x.view(np.int64), y.view(np.int64)) or
                    np.all((x.view(np.int64) == y.view(np.int64)) | (np.isnan(x) & np.isnan(y))))
    return a.equals(b)
