"""The deflated Sharpe ratio against the paper's worked example, stability arithmetic, and the
progress line's ETA."""
from __future__ import annotations

import io
import math
from statistics import NormalDist

import numpy as np
import pytest

from tradebot.optimize.progress import Progress
from tradebot.textkit import format_duration
from tradebot.optimize.stats import (Stability, deflated_sharpe, expected_max_sharpe, probabilistic_sharpe,
                                     stability)


def test_the_deflated_sharpe_ratio_reproduces_bailey_and_lopez_de_prado_2014() -> None:
    """Their numerical example: annualized SR 2.5 over 5 years of daily returns (T = 1250), the best
    of N = 100 trials whose annualized Sharpe ratios have variance 0.5, skewness -3, kurtosis 10:
    SR0 = 0.1132 per day and DSR = 0.9004."""
    days = 250
    sr0 = expected_max_sharpe(0.5 / days, 100)
    assert sr0 == pytest.approx(0.1132, abs=5e-4)
    dsr = probabilistic_sharpe(2.5 / math.sqrt(days), sr0, observations=1250, skew=-3.0, kurtosis=10.0)
    assert dsr == pytest.approx(0.9004, abs=1e-3)


def test_one_trial_is_the_probabilistic_sharpe_ratio_against_zero() -> None:
    rng = np.random.default_rng(0)
    returns = rng.normal(0.001, 0.01, 2000)
    sr = returns.mean() / returns.std(ddof=1)
    centred = returns - returns.mean()
    skew = np.mean(centred ** 3) / np.mean(centred ** 2) ** 1.5
    kurt = np.mean(centred ** 4) / np.mean(centred ** 2) ** 2
    by_hand = NormalDist().cdf(sr * math.sqrt(1999) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr ** 2))
    assert deflated_sharpe(returns, [sr]) == pytest.approx(by_hand, rel=1e-12)


def test_more_trials_deflate_more() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0005, 0.01, 1000)
    spread = rng.normal(0, 0.02, 1000)
    values = [deflated_sharpe(returns, spread[:n]) for n in (2, 10, 100, 1000)]
    assert all(a > b for a, b in zip(values, values[1:]))
    assert deflated_sharpe(np.zeros(50), [0.1, 0.2]) is None  # flat returns: undefined


def test_stability_leaves_out_neighbours_without_a_result() -> None:
    s = stability(5, 2.0, [4, 6, 9], {4: 1.0, 6: 1.5, 7: 9.0})
    assert s == Stability(2.0, (1.0, 1.5))
    assert s.mean == 1.25 and s.worst == 1.0
    assert s.drop(maximize=True) == pytest.approx(0.375)
    assert Stability(-1.0, (-2.0,)).drop(maximize=False) == pytest.approx(-1.0)  # neighbours better
    assert Stability(1.0, ()).drop(maximize=True) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_done_best_rate_and_eta() -> None:
    clock, stream = FakeClock(), io.StringIO()
    progress = Progress(100, "sharpe", stream=stream, clock=clock, quiet_interval=0.0)
    clock.now += 10
    progress.update(25, 1.5)
    assert progress.eta() == pytest.approx(30.0)
    line = stream.getvalue().strip()
    assert line == "[######..................] 25/100 trials | best sharpe 1.5 | 2.5/s | ETA 30s"
    progress.update(75, None)
    assert progress.eta() == 0 and "100/100" in stream.getvalue().splitlines()[-1]


@pytest.mark.parametrize("seconds, text", [(0.4, "0s"), (42, "42s"), (185, "3m05s"), (7620, "2h07m"),
                                           (3 * 86400 + 4 * 3600, "3d04h")])
def test_durations_read_short(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
