"""The warm-up computed from a compiled script (lang/lookback.py) against the compiler itself:
hand-worked sums along nested calls, shifts and `@ timeframe`, and a property over every builtin
- on the last `warm-up + 1` bars the value at the last bar exists, on one bar fewer it does not."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.lang.builtins import REGISTRY
from tradebot.lang.lookback import lookback
from tradebot.lang.types import ArgKind, Kind
from tradebot.pipeline import compile_source

HOUR_MS = 3_600_000


def warmup(expression: str, interval_ms: int = HOUR_MS) -> int:
    strategy = compile_source(f"x = {expression}\n", "t.tbs", series=["x"])
    return lookback([strategy.checked.series["x"]]).bars(interval_ms)


@pytest.mark.parametrize(("expression", "bars"), [
    ("close", 0),
    ("sma(close, 20)", 19),
    ("sma(rsi(close, 14), 5)", 14 + 4),  # rsi's first value at bar 14, then 4 more for the mean
    ("close[3] + ema(close, 10)", 9),
    ("ema(close[3], 10)", 12),
    ("macd(close).signal", 26 + 9 - 2),
    ("sma(close, 3) @ 4h", (2 + 1) * 4 + 4),  # 3 closed 4-hour bars plus the one in progress
    ("sma(close, 3) @ 4h", ((2 + 1) * 4 + 4) * 60),
])
def test_hand_worked(expression: str, bars: int) -> None:
    interval = HOUR_MS if bars < 100 else 60_000
    assert warmup(expression, interval) == bars


def test_open_ended_builtins_are_named() -> None:
    strategy = compile_source("x = barssince(close > open)\n", "t.tbs", series=["x"])
    assert lookback([strategy.checked.series["x"]]).open_ended == ("barssince",)


SIMPLE = tuple(b for b in REGISTRY.values() if not b.is_series and b.returns.kind in (Kind.NUMBER, Kind.RECORD)
               and b.category != "position"  # no column outside a run
               and all(p.kind in (ArgKind.SERIES, ArgKind.LENGTH, ArgKind.INT, ArgKind.NUMBER) for p in b.params))


@st.composite
def calls(draw) -> str:
    builtin = draw(st.sampled_from(SIMPLE))
    args = []
    for spec in builtin.params:
        if spec.kind is ArgKind.SERIES:
            args.append(draw(st.sampled_from(("close", "high", "hl2"))))
        elif spec.kind is ArgKind.LENGTH:
            args.append(str(draw(st.integers(max(1, int(spec.minimum or 1)), 12))))
        elif spec.kind is ArgKind.INT:
            args.append(str(draw(st.integers(int(spec.minimum or 0), 4))))
        else:
            args.append(repr(spec.default) if not spec.required else "2")
    field = f".{draw(st.sampled_from(builtin.fields))}" if builtin.fields else ""
    return f"{builtin.name}({', '.join(args)}){field}"


def _bars(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 1, n))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(pl.Datetime("ms", "UTC")),
        "open": close + 0.1, "high": close + 1.0, "low": close - 1.0, "close": close,
        "volume": rng.uniform(1, 10, n)})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls(), st.integers(0, 2**16))
def test_warmup_is_enough_for_every_builtin(expression: str, seed: int) -> None:
    """On the last `warm-up + 1` bars, the last bar has a value exactly when it has one on the
    whole history (a pivot or a zero deviation may leave it missing on both)."""
    strategy = compile_source(f"x = {expression}\n", "t.tbs", series=["x"])
    needed = lookback([strategy.checked.series["x"]]).bars(HOUR_MS)
    bars = _bars(needed + 40, seed)
    full = strategy.plan.evaluate(bars, interval=HOUR_MS)["x"]
    tail = strategy.plan.evaluate(bars.tail(needed + 1), interval=HOUR_MS)["x"]
    assert (tail[-1] is None) == (full[-1] is None), f"{expression}: warm-up {needed} bars is not enough"


@pytest.mark.parametrize("expression", ["sma(close, 7)", "rsi(close, 5)", "macd(close, 9, 4, 3).hist",
                                        "apo(close, 6, 2)", "atr(4)", "bbands(close, 5, 2).lower"])
def test_warmup_is_the_first_value(expression: str) -> None:
    """For indicators with a fixed warm-up the count is exact: one bar fewer, no value yet."""
    strategy = compile_source(f"x = {expression}\n", "t.tbs", series=["x"])
    needed = lookback([strategy.checked.series["x"]]).bars(HOUR_MS)
    full = strategy.plan.evaluate(_bars(needed + 20, 1), interval=HOUR_MS)["x"]
    assert full[needed] is not None and full[needed - 1] is None


def test_check_prints_the_warm_up(capsys: pytest.CaptureFixture[str]) -> None:
    from tradebot.cli import main

    root = Path(__file__).resolve().parents[2]
    assert main(["check", str(root / "examples" / "rsi.tbs")]) == 0
    # rsi(close, 14) crossing: 14 + 1 bars; band(close, 20, -2): sma and stdev over 20, 19 bars.
    assert "warm-up 19 bars" in capsys.readouterr().out


def test_a_shared_definition_is_measured_once_per_unit(monkeypatch) -> None:
    """`a1 = a0 + a0[1]`, `a2 = a1 + a1[1]`, ...: every level reads the one before twice, so walking
    the definitions as a tree costs 2^levels (18 levels took 40 s); each node is measured once."""
    from tradebot.lang import lookback as module

    levels = 40
    source = "a0 = sma(close, 3)\n" + "".join(f"a{i} = a{i - 1} + a{i - 1}[1]\n" for i in range(1, levels + 1))
    node = compile_source(source, "t.tbs", series=[f"a{levels}"]).checked.series[f"a{levels}"]
    calls = []
    measure = module._own_and_inputs
    monkeypatch.setattr(module, "_own_and_inputs", lambda *args: calls.append(args[0]) or measure(*args))
    assert lookback([node]).bars(HOUR_MS) == 2 + levels  # sma's 2, then one more bar per `[1]`
    assert len(calls) == len({id(n) for n in calls}) <= 3 * (levels + 1) + 3
