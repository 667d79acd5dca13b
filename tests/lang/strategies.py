"""Hypothesis strategies: random OHLCV bars and random well-typed .tbs expressions.

Expressions are generated from the builtin registry itself, so every builtin with a reference
implementation is exercised against the compiler without listing it here.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from hypothesis import strategies as st

from tradebot.lang.builtin_spec import Builtin
from tradebot.lang.builtins import REGISTRY
from tradebot.lang.types import ArgKind, Kind

PRICE_SERIES = ("open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4")
# Position state exists only inside a run (tests/runtime/test_position_state.py generates it).
CALLABLE = tuple(b for b in REGISTRY.values() if not b.is_series and b.returns.kind in (Kind.NUMBER, Kind.RECORD)
                 and b.category != "position")
CONDITIONAL = tuple(b for b in REGISTRY.values() if not b.is_series and b.returns.kind is Kind.BOOL)
# Higher timeframes of the hourly bars below. Not 1h: with a one-bar prefix the data's interval is
# unknown, so `x @ 1h` is missing there but not on the full data (tests/lang/test_mtf.py).
TIMEFRAMES = ("2h", "3h", "4h", "1d")
# String arguments by parameter name: sessions inside a day, across midnight and all day; time
# zones with and without daylight saving, and a half-hour offset.
STRINGS = {
    "session": ("09:30-16:00", "22:00-02:00", "00:00-00:00", "13:00-14:00"),
    "tz": ("UTC", "America/New_York", "Asia/Kolkata", "Europe/London"),
}


@st.composite
def ohlcv(draw, min_bars: int = 2, max_bars: int = 60) -> pl.DataFrame:
    """Random but valid bars on a 1/8 price grid (exact in binary floating point)."""
    n = draw(st.integers(min_bars, max_bars))
    steps = draw(st.lists(st.integers(-16, 16), min_size=n, max_size=n))
    close = 100.0 + np.cumsum(steps) / 8.0
    open_ = np.concatenate([[100.0], close[:-1]]) + np.array(draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))) / 8.0
    wick_up = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))) / 8.0
    wick_down = np.array(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n))) / 8.0
    volume = np.array(draw(st.lists(st.integers(0, 5000), min_size=n, max_size=n)), dtype=float)
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(pl.Datetime("ms", "UTC")),
        "open": open_, "high": np.maximum(open_, close) + wick_up, "low": np.minimum(open_, close) - wick_down,
        "close": close, "volume": volume,
    })


# Window lengths that vary per bar: short ones, ones that grow from a reset, and ones that are 0
# (missing) on some bars.
VARIABLE_LENGTHS = ("(bar_index % 4 + 1)", "(barssince(close > open) + 1)", "(volume % 5)", "(2 + floor(close % 3))")


def _constant(spec) -> st.SearchStrategy[str]:
    low = int(spec.minimum) if spec.minimum is not None else 0
    if spec.kind in (ArgKind.LENGTH, ArgKind.WINDOW):
        return st.integers(max(low, 1), 6).map(str)
    if spec.kind is ArgKind.INT:
        return st.integers(low, low + 4).map(str)
    return st.sampled_from(["0.5", "1", "2", "2.5"])


def _call(builtin: Builtin, number: st.SearchStrategy[str], condition: st.SearchStrategy[str]):
    parts = []
    for spec in builtin.params:
        if spec.kind is ArgKind.SERIES:
            parts.append(number)
        elif spec.kind is ArgKind.BOOL_SERIES:
            parts.append(condition)
        elif spec.kind is ArgKind.WINDOW:  # a constant (the fast path) or a series
            parts.append(st.one_of(_constant(spec), st.sampled_from(VARIABLE_LENGTHS), number))
        elif spec.kind is ArgKind.STRING:
            choices = (*STRINGS.get(spec.name, ()), *(() if spec.required else (spec.default,)))
            parts.append(st.sampled_from(choices).map(lambda text: f'"{text}"'))
        else:
            parts.append(_constant(spec))
    field = st.sampled_from(builtin.fields).map(lambda f: "." + f) if builtin.fields else st.just("")
    return st.tuples(st.tuples(*parts), field).map(lambda a: f"{builtin.name}({', '.join(a[0])}){a[1]}")


def expressions(only: frozenset[str] | None = None) -> tuple[st.SearchStrategy[str], st.SearchStrategy[str]]:
    """(number expression, condition expression) strategies, mutually recursive; `only`: calls
    drawn from these builtins alone (a family that a draw from the whole registry rarely reaches)."""
    callable_ = tuple(b for b in CALLABLE if only is None or b.name in only)
    conditional = tuple(b for b in CONDITIONAL if only is None or b.name in only) or CONDITIONAL
    leaf_number = st.one_of(st.sampled_from(PRICE_SERIES), st.sampled_from(["1", "0.5", "100", "2"]))

    def extend_number(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        cond = condition_from(inner)
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda x: f"-({x})"),
            st.tuples(inner, st.integers(0, 3)).map(lambda t: f"({t[0]})[{t[1]}]"),
            st.tuples(cond, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
            st.sampled_from(callable_).flatmap(lambda b: _call(b, inner, cond)),
            st.tuples(inner, st.sampled_from(TIMEFRAMES)).map(lambda t: f"(({t[0]}) @ {t[1]})"),
        )

    def condition_from(number: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        compare = st.tuples(number, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), number).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})")
        cross = st.tuples(number, st.sampled_from(["above", "below"]), number).map(
            lambda t: f"({t[0]} crosses {t[1]} {t[2]})")
        builtin = st.sampled_from(conditional).flatmap(lambda b: _call(b, number, st.sampled_from(["true", "false"])))
        base = st.one_of(compare, cross, builtin, st.sampled_from(["true", "false"]))
        return st.recursive(base, lambda c: st.one_of(
            st.tuples(c, st.sampled_from(["and", "or"]), c).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            c.map(lambda x: f"(not {x})"),
            st.tuples(c, st.sampled_from(["for", "within"]), st.integers(1, 4)).map(
                lambda t: f"({t[0]} {t[1]} {t[2]} bars)"),
            st.tuples(c, st.integers(1, 3)).map(lambda t: f"({t[0]})[{t[1]}]"),
            st.tuples(c, st.sampled_from(TIMEFRAMES)).map(lambda t: f"(({t[0]}) @ {t[1]})"),
            st.sampled_from(conditional).flatmap(lambda b: _call(b, number, c)),
        ), max_leaves=3)

    number = st.recursive(leaf_number, extend_number, max_leaves=6)
    return number, condition_from(number)


def stateful(number: st.SearchStrategy[str], condition: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Definitions of `s` (and sometimes `t`, `b`) that read their own past, over random inputs:
    one recursion, two reading each other through history, or a latch (a condition)."""
    def body(past: tuple[str, ...]) -> st.SearchStrategy[str]:
        leaf = st.one_of(st.sampled_from(past), number.map(lambda x: f"({x})"))

        def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
            cond = st.one_of(
                st.tuples(inner, st.sampled_from(["<", ">=", "==", "crosses above", "crosses below"]), inner)
                .map(lambda t: f"({t[0]} {t[1]} {t[2]})"), condition)
            return st.one_of(
                st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
                st.tuples(cond, inner, inner).map(lambda t: f"(if {t[0]} then {t[1]} else {t[2]})"),
                st.tuples(st.sampled_from(["max", "min", "nz"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
                inner.map(lambda x: f"abs({x})"),
                st.tuples(inner, st.integers(1, 2)).map(lambda t: f"({t[0]})[{t[1]}]"),
            )
        return st.recursive(leaf, extend, max_leaves=5)

    single = st.tuples(body(("s[1]", "s[2]", "(s + close)[1]")), number).map(
        lambda t: f"s = {t[0]} starting {t[1]}\n")
    mutual = st.tuples(body(("t[1]", "s[1]")), number, body(("s",))).map(
        lambda t: f"s = {t[0]} starting {t[1]}\nt = {t[2]}\n")
    latch = st.tuples(condition, condition, st.sampled_from(["true", "false"])).map(
        lambda t: f"b = if {t[0]} then true else if {t[1]} then false else b[1] starting {t[2]}\n"
                  "s = if b then 1 else 0\n")
    return st.one_of(single, mutual, latch)
