"""The resumable kernel (tradebot/runtime/stepper.py): for any split point k, a `Stepper` fed
bars 0..k-1, snapshotted to JSON, restored and fed bars k..n-1 gives exactly - bit for bit - the
trades, equity, position, drawdown and ruin of one `kernel.simulate` over all the bars. It is the
resumable twin of the prefix-invariance properties (test_properties.py, test_risk_properties.py),
over the same scenarios: market entries with costs, and every risk setting, order type, fill
policy, sizing, pyramiding and ruin."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.runtime.support import make_bars, make_signals, scenarios
from tests.runtime.test_risk_properties import risk_scenarios, to_engine
from tradebot.runtime import ExecutionConfig
from tradebot.runtime import kernel as kn
from tradebot.runtime.engine import _kernel_array, kernel_config, run_kernel
from tradebot.runtime.stepper import Stepper, level_row

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def risk_case(scenario):
    bars, flags, cfg = scenario
    return (bars, *to_engine(flags, cfg))


CASES = st.one_of(scenarios(), risk_scenarios().map(risk_case),
                  risk_scenarios(orders=True).map(risk_case),
                  risk_scenarios(ruinous=True).map(risk_case))


def kernel_inputs(bars, signals, config):
    """(prices, flags, levels, settings) exactly as `run_backtest` hands them to the kernel."""
    prices = tuple(_kernel_array(bars[name].to_numpy(), np.float64)
                   for name in ("open", "high", "low", "close"))
    flags = tuple(_kernel_array(array, np.bool_) for array in signals.arrays())
    levels, *settings = kernel_config(config, signals)
    return prices, flags, levels, settings


def stepped(prices, flags, levels, settings, split: int):
    """A Stepper over every bar, replaced at bar `split` by its restored JSON snapshot."""
    n = len(prices[0])
    stepper, outcomes = Stepper(*settings), []
    for t in range(n):
        if t == split:
            snapshot = json.loads(json.dumps(stepper.snapshot(), allow_nan=False))
            stepper = Stepper.restore(snapshot)
            assert stepper.snapshot() == snapshot
        outcomes.append(stepper.on_bar([p[t] for p in prices], [f[t] for f in flags],
                                       level_row(levels, t), is_last=t == n - 1))
    return stepper, outcomes


@SETTINGS
@given(CASES, st.data())
def test_snapshot_and_restore_at_any_bar_equals_one_simulate_bit_for_bit(case, data):
    prices, flags, levels, settings = kernel_inputs(*case)
    n = len(prices[0])
    split = data.draw(st.integers(0, n), label="split point")
    trades, equity, position, drawdown, ruin = run_kernel(prices, flags, levels, *settings, kn.no_program())
    stepper, outcomes = stepped(prices, flags, levels, settings, split)
    assert stepper.trades.tobytes() == trades.tobytes()
    for name, expected in (("equity", equity), ("position", position), ("drawdown", drawdown)):
        assert np.array([getattr(o, name) for o in outcomes]).tobytes() == expected.tobytes(), name
    assert (stepper.state.ruin_bar, stepper.state.shortfall) == (ruin[0], ruin[1])
    closed = [o.closed for o in outcomes]
    assert np.concatenate(closed).tobytes() == trades.tobytes()  # each fill reported once, in order


def test_the_stepper_and_simulate_share_one_compiled_step():
    # Same argument types from both callers: one compiled (and cached) `step`, not two.
    bars, signals, config = (make_bars([1, 2, 3], [2, 3, 4]), make_signals(3, enter_long=[0]),
                             ExecutionConfig())
    prices, flags, levels, settings = kernel_inputs(bars, signals, config)
    run_kernel(prices, flags, levels, *settings, kn.no_program())
    stepped(prices, flags, levels, settings, split=1)
    assert len(kn.step.signatures) == 1


def test_a_bar_of_the_wrong_shape_is_refused():
    stepper = Stepper.for_config(ExecutionConfig())
    with pytest.raises(ValueError, match="4 prices, 4 signals, 12 level values and 0 program inputs, got 4, 3, 12 and 0"):
        stepper.on_bar([1.0] * 4, [False] * 3, [float("nan")] * kn.R_SLOTS)


def test_a_snapshot_of_another_format_is_refused():
    with pytest.raises(ValueError, match="not a tradebot-stepper/2 snapshot"):
        Stepper.restore({"format": "something else"})
