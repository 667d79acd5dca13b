"""How orders are executed: the costs and capital a backtest runs with.

`ExecutionConfig` is the one place the runtime reads execution settings from. The compiler builds it
from a script's `capital`, `fee` and `slippage` lines (and `--set`/flags); the engine only reads it.
Issue 4 (risk management) will add sizing, stops and fill policies here as further keyword fields
with defaults, so existing callers keep working.

Conventions (see docs/execution.md):
- `fee` is a fraction of the filled notional charged on every fill (per side): 0.0005 is 0.05 %.
- `slippage` is a fraction of the reference price, always against the trader: buys fill at
  price * (1 + slippage), sells at price * (1 - slippage).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

DEFAULT_CAPITAL = 10_000.0

# Beyond these bounds a value is almost surely a unit mistake (5 meaning 5 %, not 500 %):
# reject it instead of producing a backtest that silently loses everything.
MAX_FEE = 0.1
MAX_SLIPPAGE = 0.1


@dataclass(frozen=True)
class ExecutionConfig:
    """Starting capital and per-fill costs of a backtest."""

    capital: float = DEFAULT_CAPITAL
    fee: float = 0.0
    slippage: float = 0.0

    def __post_init__(self) -> None:
        # Store plain floats: the numba kernel is compiled (and cached) for float64 arguments, and
        # an int or numpy scalar here would trigger a second compilation.
        for name in ("capital", "fee", "slippage"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not (math.isfinite(self.capital) and self.capital > 0):
            raise ValueError(f"capital must be a positive number, got {self.capital!r}")
        _check_fraction("fee", self.fee, MAX_FEE)
        _check_fraction("slippage", self.slippage, MAX_SLIPPAGE)

    def as_dict(self) -> dict[str, float]:
        """The settings as plain values, for reports and JSON."""
        return {"capital": self.capital, "fee": self.fee, "slippage": self.slippage}


def _check_fraction(name: str, value: float, limit: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value < limit):
        raise ValueError(
            f"{name} must be a fraction in [0, {limit}) (0.0005 means 0.05 %), got {value!r}"
        )
