"""Statistics that say how much to trust a sweep's winner: the deflated Sharpe ratio and the
stability of the objective around the winning grid point.

Deflated Sharpe ratio (DSR), following D. H. Bailey and M. López de Prado, "The Deflated Sharpe
Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
Management 40(5), 2014, pp. 94-107, equations (1)-(2):

    SR0 = sqrt(V[SR_n]) * ((1 - g) * Z^-1(1 - 1/N) + g * Z^-1(1 - 1/(N e)))
    DSR = Z( (SR - SR0) * sqrt(T - 1) / sqrt(1 - skew * SR + (kurt - 1) / 4 * SR^2) )

where SR is the selected trial's per-bar (not annualized) Sharpe ratio over T returns, skew and
kurt (not excess) are the skewness and kurtosis of its returns, V[SR_n] is the variance of the
per-bar Sharpe ratios of all N trials, g is the Euler-Mascheroni constant and Z the standard
normal CDF. DSR is the probability that the true Sharpe ratio is above SR0, the Sharpe ratio the
best of N unskilled trials would show by luck alone.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Iterable, Mapping

import numpy as np

EULER_MASCHERONI = 0.5772156649015329
_NORMAL = NormalDist()


def expected_max_sharpe(variance: float, trials: int) -> float:
    """SR0: the expected maximum per-bar Sharpe ratio of `trials` unskilled trials (eq. 2)."""
    if trials < 2 or variance <= 0:
        return 0.0
    g = EULER_MASCHERONI
    return math.sqrt(variance) * ((1 - g) * _NORMAL.inv_cdf(1 - 1 / trials)
                                  + g * _NORMAL.inv_cdf(1 - 1 / (trials * math.e)))


def probabilistic_sharpe(sharpe: float, benchmark: float, *, observations: int, skew: float,
                         kurtosis: float) -> float | None:
    """P(true SR > benchmark) given the estimate `sharpe` (per bar) over `observations` returns."""
    spread = 1 - skew * sharpe + (kurtosis - 1) / 4 * sharpe ** 2
    if observations < 2 or spread <= 0 or not math.isfinite(spread):
        return None
    return _NORMAL.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread))


def deflated_sharpe(returns: np.ndarray, trial_sharpes: Iterable[float]) -> float | None:
    """DSR of the selected trial with per-bar `returns`, among trials with per-bar Sharpe ratios
    `trial_sharpes` (the selected one included). None when it is undefined (flat returns)."""
    returns = np.asarray(returns, dtype=np.float64)
    sharpes = np.asarray([s for s in trial_sharpes if math.isfinite(s)], dtype=np.float64)
    std = returns.std(ddof=1) if len(returns) > 1 else 0.0
    if std <= 0 or len(sharpes) == 0:
        return None
    sharpe = returns.mean() / std
    centred = returns - returns.mean()
    m2 = np.mean(centred ** 2)
    skew = float(np.mean(centred ** 3) / m2 ** 1.5)
    kurtosis = float(np.mean(centred ** 4) / m2 ** 2)
    variance = float(sharpes.var(ddof=1)) if len(sharpes) > 1 else 0.0
    benchmark = expected_max_sharpe(variance, len(sharpes))
    return probabilistic_sharpe(sharpe, benchmark, observations=len(returns), skew=skew, kurtosis=kurtosis)


@dataclass(frozen=True)
class Stability:
    """The objective at a grid point and at its neighbours (one step along one param)."""

    value: float
    neighbours: tuple[float, ...]

    @property
    def mean(self) -> float | None:
        return float(np.mean(self.neighbours)) if self.neighbours else None

    @property
    def worst(self) -> float | None:
        return None if not self.neighbours else min(self.neighbours)

    def drop(self, *, maximize: bool) -> float | None:
        """How much worse the neighbours are on average, as a share of |value| (0.1: 10 % worse)."""
        mean = self.mean
        if mean is None or self.value == 0:
            return None
        worse = self.value - mean if maximize else mean - self.value
        return worse / abs(self.value)


def stability(index: int, value: float, neighbour_indices: Iterable[int],
              objective_by_index: Mapping[int, float]) -> Stability:
    """The Stability of grid point `index`; neighbours with no valid result are left out."""
    values = tuple(objective_by_index[i] for i in neighbour_indices if i in objective_by_index)
    return Stability(value, tuple(v for v in values if math.isfinite(v)))
