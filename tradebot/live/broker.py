"""The seam between a strategy's decisions and a venue.

A `Broker` receives, for each confirmed bar, the strategy's intent (the kernel's four signals and
the value of each risk-level slot on that bar) and reports the fills it caused, the position held
and every fill so far. `PaperBroker` is the first implementation: it runs the backtest kernel's own
`step` (runtime/stepper.py), so its fills are the backtest's by construction: market orders at
the next bar's open plus costs, limit and stop entries, stops and targets on the bar's high and
low with the backtest's precedence. A broker for the exchange implements the same protocol.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..runtime.execution import ExecutionConfig
from ..runtime.program import RuleProgram
from ..runtime.stepper import BarOutcome, Stepper


@dataclass(frozen=True)
class Intent:
    """What the strategy asks for on one closed bar: (open, high, low, close), the signals
    (enter_long, exit_long, enter_short, exit_short) and one value per risk-level slot."""

    bar: tuple[float, float, float, float]
    signals: tuple[bool, bool, bool, bool]
    levels: tuple[float, ...]
    inputs: tuple[float, ...] = ()  # the program's inputs (rules reading position state)


class Broker(Protocol):
    def submit(self, intent: Intent) -> BarOutcome:
        """Hand over one bar's intent; the outcome carries the trades it closed."""
        ...

    def position(self) -> float:
        """The signed quantity held now."""
        ...

    def fills(self) -> np.ndarray:
        """Every closed trade so far (kernel.T_* columns), in closing order."""
        ...


class PaperBroker:
    """Fills from the backtest kernel, one bar at a time; resumable through `snapshot`."""

    def __init__(self, stepper: Stepper) -> None:
        self.stepper = stepper
        self.last: BarOutcome | None = None

    @classmethod
    def for_config(cls, config: ExecutionConfig, program: RuleProgram | None = None) -> PaperBroker:
        return cls(Stepper.for_config(config, program))

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> PaperBroker:
        return cls(Stepper.restore(snapshot))

    def snapshot(self) -> dict[str, Any]:
        return self.stepper.snapshot()

    @property
    def bars_seen(self) -> int:
        return self.stepper.bars_seen

    def submit(self, intent: Intent) -> BarOutcome:
        self.last = self.stepper.on_bar(intent.bar, intent.signals, intent.levels, inputs=intent.inputs)
        return self.last

    def position(self) -> float:
        book = self.stepper.state.book
        return float(book.side * book.qty)

    def fills(self) -> np.ndarray:
        return self.stepper.trades
