"""The seam between a strategy's decisions and a venue.

A `Broker` receives, for each confirmed bar, the strategy's intent (the kernel's four signals and
the value of each risk-level slot on that bar) and reports the fills it caused (`submit`), takes
back a standing entry order (`cancel`), and tells the lots held (`positions`, `position` their
signed total), the orders standing (`orders`) and every fill so far (`fills`). `PaperBroker` is the first implementation: it runs the backtest kernel's own
`step` (runtime/stepper.py), so its fills are the backtest's by construction: market orders at
the next bar's open plus costs, limit and stop entries, stops and targets on the bar's high and
low with the backtest's precedence. A broker for the exchange implements the same protocol.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ..runtime import kernel as kn
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


_KINDS = {kn.O_MARKET: "market", kn.O_LIMIT: "limit", kn.O_STOP: "stop"}


@dataclass(frozen=True)
class Order:
    """An entry order standing after a bar's close: placed on bar `placed`, fillable until bar
    `last` (None: until filled or replaced); `price` is None for a market order."""

    id: str
    side: str
    kind: str
    price: float | None
    placed: int
    last: int | None


@dataclass(frozen=True)
class Position:
    """One open lot: its side, quantity, entry bar and fill price (costs included), and the
    stop and target protecting it (NaN: none)."""

    side: str
    qty: float
    entry_bar: int
    entry_price: float
    stop: float
    target: float


class Broker(Protocol):
    def submit(self, intent: Intent) -> BarOutcome:
        """Hand over one bar's intent; the outcome carries the trades it closed."""
        ...

    def cancel(self, order_id: str) -> bool:
        """Withdraw the standing order `order_id` so that it never fills; False when it no
        longer stands (filled, expired, replaced or cancelled already)."""
        ...

    def orders(self) -> list[Order]:
        """The orders standing now."""
        ...

    def positions(self) -> list[Position]:
        """The lots held now, oldest first."""
        ...

    def position(self) -> float:
        """The signed quantity held now (the lots' total)."""
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
    def restore(cls, snapshot: dict[str, Any], trades: np.ndarray | None = None) -> PaperBroker:
        """From `snapshot`; `trades`: every trade closed so far (`snapshot` counts them only)."""
        return cls(Stepper.restore(snapshot, trades))

    def snapshot(self) -> dict[str, Any]:
        """The kernel's state, counting the closed trades without them: the caller keeps them
        (the session journals each trade once, with the bar that closed it)."""
        return self.stepper.snapshot(trades=False)

    @property
    def bars_seen(self) -> int:
        return self.stepper.bars_seen

    def submit(self, intent: Intent) -> BarOutcome:
        self.last = self.stepper.on_bar(intent.bar, intent.signals, intent.levels, inputs=intent.inputs)
        return self.last

    def cancel(self, order_id: str) -> bool:
        standing = self.orders()
        if not standing or standing[0].id != order_id:
            return False
        return self.stepper.cancel_pending()

    def orders(self) -> list[Order]:
        """The kernel's standing entry order, if any: its id names the bar that placed it and the
        side, so a request to cancel one order never reaches its replacement."""
        pending = self.stepper.state.pending
        if pending.side == kn.FLAT or pending.last_bar < self.bars_seen:
            return []  # nothing stands, or it has had its last bar
        side = "long" if pending.side == kn.LONG else "short"
        price = None if pending.kind == kn.O_MARKET else float(pending.level)
        last = None if pending.last_bar == kn.NEVER else int(pending.last_bar)
        return [Order(f"{side}-{int(pending.signal_bar)}", side, _KINDS[int(pending.kind)], price,
                      int(pending.signal_bar), last)]

    def positions(self) -> list[Position]:
        book = self.stepper.state.book
        side = "long" if book.side == kn.LONG else "short"
        lots = [kn.Lot(*row) for row in self.stepper.lots]
        return [Position(side, float(lot.qty), int(lot.entry_bar), float(lot.entry_price),
                         float(lot.stop), float(lot.target)) for lot in lots]

    def position(self) -> float:
        book = self.stepper.state.book
        return float(book.side * book.qty)

    def fills(self) -> np.ndarray:
        return self.stepper.trades

    def ruin(self) -> np.ndarray:
        """(the bar the account was ruined on or -1, the loss beyond its equity), as `simulate`
        returns it: a ruined account trades no more, and result.json says when."""
        return np.array([self.stepper.state.ruin_bar, self.stepper.state.shortfall], dtype=float)
