"""How orders are executed: capital, costs, sizing, risk exits and entry orders of a backtest.

`ExecutionConfig` is the one place the runtime reads execution settings from. The pipeline builds
it from a script's settings (`tradebot.pipeline.execution_config`); the engine only reads it. It is
declarative: a value that changes from bar to bar (`stop_loss 3 * atr(14)`) is named here and its
array travels in `Signals.levels` under that name.

Conventions (docs/execution.md states them with worked examples):
- `fee` is a fraction of the filled notional charged on every fill (0.0005 is 0.05 %), plus
  `fee_per_order` in cash per fill.
- `slippage` (a fraction) and `slippage_price` (price units, e.g. ticks times the tick size)
  move market-type fills against the trader; `spread` / `spread_price` is the full bid-ask
  spread, half of it paid on every fill (bars are mid prices).
- Risk levels of a side are fixed when the entry fills, from their value on the signal bar.
"""
from __future__ import annotations

import math
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from ..market.vocab import (COST_STRESS_FACTOR, FILL_POLICIES, LEVEL_MODES, MAX_FEE, MAX_LEVERAGE,
                            MAX_PYRAMIDING, MAX_RUNGS, MAX_SLIPPAGE, ORDER_KINDS, SIZING_MODES)

DEFAULT_CAPITAL = 10_000.0


@dataclass(frozen=True)
class Level:
    """A stop, target, trailing distance or break-even trigger of one side.

    mode "percent": `value` is a fraction of the entry fill (of the best price, for a trailing
    stop); "distance": a price distance from it; "price": an absolute price (stops and targets
    only). `value` is a constant, or the name of a per-bar array in `Signals.levels`, read on the
    bar whose signal placed the entry.
    """

    mode: str
    value: float | str

    def __post_init__(self) -> None:
        if self.mode not in LEVEL_MODES:
            raise ValueError(f"level mode must be one of {LEVEL_MODES}, got {self.mode!r}")
        if not isinstance(self.value, str):
            object.__setattr__(self, "value", float(self.value))
            if not (math.isfinite(self.value) and self.value > 0):
                raise ValueError(f"a {self.mode} level must be a positive number, got {self.value!r}")


@dataclass(frozen=True)
class Rung:
    """One rung of a laddered target (`take_profit long 2% exit 50%`): `portion` (a fraction in
    (0, 1]) of each entry's quantity gets its own target, a constant `level` (percent or
    distance) from the entry fill."""

    level: Level
    portion: float

    def __post_init__(self) -> None:
        if self.level.mode == "price" or isinstance(self.level.value, str):
            raise ValueError("a rung's target is a constant percentage or distance")
        _check_portion("a rung's portion", self.portion)


@dataclass(frozen=True)
class EntryOrder:
    """How a side's entries are placed: at the next open (market), or as a limit / stop order at
    `price` (constant or series name), standing for `expire` bars (None: until filled or
    replaced by a newer entry, or cancelled by the side's exit signal)."""

    kind: str = "market"
    price: float | str | None = None
    expire: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ORDER_KINDS:
            raise ValueError(f"order kind must be one of {ORDER_KINDS}, got {self.kind!r}")
        if (self.kind == "market") != (self.price is None):
            raise ValueError("a limit or stop entry needs a price; a market entry has none")
        if self.expire is not None and (int(self.expire) != self.expire or self.expire < 1):
            raise ValueError(f"expire must be a whole number of bars >= 1, got {self.expire!r}")


@dataclass(frozen=True)
class SideRules:
    """The risk exits and entry order type of one side (long or short)."""

    stop_loss: Level | None = None
    take_profit: Level | None = None
    trailing_stop: Level | None = None
    break_even: Level | None = None
    exit_after: int | None = None  # bars held before a time exit at the open
    entry: EntryOrder = EntryOrder()
    # The part of the position an exit signal closes: None (all of it), a constant fraction, or
    # the name of a per-bar series (NaN or 1 where a rule closing everything fires).
    exit_portion: float | str | None = None
    ladder: tuple[Rung, ...] = ()  # laddered targets, at most MAX_RUNGS (docs/execution.md)

    def __post_init__(self) -> None:
        for name in ("trailing_stop", "break_even"):
            level = getattr(self, name)
            if level is not None and level.mode == "price":
                raise ValueError(f"{name} is a percent or a distance, not a price")
        if self.exit_after is not None and (int(self.exit_after) != self.exit_after
                                            or self.exit_after < 1):
            raise ValueError(f"exit_after must be a whole number of bars >= 1, got {self.exit_after!r}")
        if isinstance(self.exit_portion, (int, float)):
            object.__setattr__(self, "exit_portion", float(self.exit_portion))
            _check_portion("exit_portion", self.exit_portion)
        if len(self.ladder) > MAX_RUNGS:
            raise ValueError(f"a ladder has at most {MAX_RUNGS} rungs, got {len(self.ladder)}")
        if sum(rung.portion for rung in self.ladder) > 1.0 + 1e-9:
            raise ValueError("a ladder's portions add up to more than 100%")

    def levels(self) -> dict[str, Level | None]:
        return {"stop_loss": self.stop_loss, "take_profit": self.take_profit,
                "trailing_stop": self.trailing_stop, "break_even": self.break_even}


@dataclass(frozen=True)
class Sizing:
    """How much each entry buys or sells.

    "equity": spend the fraction `value` of the equity (fees included; 1.0 is all-in);
    "units": `value` units; "cash": spend `value` cash; "risk": the quantity whose loss at the
    stop is the fraction `value` of the equity (an entry without a stop is skipped). The quantity is rounded
    down to `qty_step` (0: no rounding) and an entry below `min_qty` is skipped.
    """

    mode: str = "equity"
    value: float = 1.0
    min_qty: float = 0.0
    qty_step: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in SIZING_MODES:
            raise ValueError(f"sizing mode must be one of {SIZING_MODES}, got {self.mode!r}")
        for name in ("value", "min_qty", "qty_step"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not (math.isfinite(self.value) and self.value > 0):
            raise ValueError(f"size must be a positive number, got {self.value!r}")
        if not (self.min_qty >= 0 and self.qty_step >= 0 and math.isfinite(self.min_qty + self.qty_step)):
            raise ValueError("min_qty and qty_step must be finite and >= 0")


@dataclass(frozen=True)
class ExecutionConfig:
    """Capital, per-fill costs, sizing, risk exits and fill policy of a backtest."""

    capital: float = DEFAULT_CAPITAL
    fee: float = 0.0
    slippage: float = 0.0
    _: KW_ONLY
    fee_per_order: float = 0.0
    slippage_price: float = 0.0
    spread: float = 0.0
    spread_price: float = 0.0
    fill: str = "pessimistic"
    sizing: Sizing = Sizing()
    leverage: float = 1.0
    pyramiding: int = 1
    long: SideRules = field(default_factory=SideRules)
    short: SideRules = field(default_factory=SideRules)

    def __post_init__(self) -> None:
        # Store plain floats: the numba kernel is compiled (and cached) for float64 arguments, and
        # an int or numpy scalar here would trigger a second compilation.
        for name in ("capital", "fee", "slippage", "fee_per_order", "slippage_price", "spread",
                     "spread_price", "leverage"):
            object.__setattr__(self, name, float(getattr(self, name)))
        if not (math.isfinite(self.capital) and self.capital > 0):
            raise ValueError(f"capital must be a positive number, got {self.capital!r}")
        # A script may write at most the vocabulary's bounds; the optimizer's stress re-run
        # multiplies them, and beyond that a value is a unit mistake.
        _check_fraction("fee", self.fee, MAX_FEE * COST_STRESS_FACTOR)
        _check_fraction("slippage", self.slippage, MAX_SLIPPAGE * COST_STRESS_FACTOR)
        _check_fraction("spread", self.spread, MAX_SLIPPAGE * COST_STRESS_FACTOR)
        for name in ("fee_per_order", "slippage_price", "spread_price"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {getattr(self, name)!r}")
        if self.fill not in FILL_POLICIES:
            raise ValueError(f"fill must be one of {FILL_POLICIES}, got {self.fill!r}")
        if not (1.0 <= self.leverage <= MAX_LEVERAGE):
            raise ValueError(f"leverage must be in [1, {MAX_LEVERAGE:g}], got {self.leverage!r}")
        if int(self.pyramiding) != self.pyramiding or not 1 <= self.pyramiding <= MAX_PYRAMIDING:
            raise ValueError(f"pyramiding must be a whole number in [1, {MAX_PYRAMIDING}], "
                             f"got {self.pyramiding!r}")
        object.__setattr__(self, "pyramiding", int(self.pyramiding))

    def side(self, name: str) -> SideRules:
        return self.long if name == "long" else self.short

    def as_dict(self) -> dict[str, Any]:
        """The settings as plain values, for reports and JSON (defaults left out, but for the
        capital and the costs every run has)."""
        out: dict[str, Any] = {"capital": self.capital, "fee": self.fee, "slippage": self.slippage}
        defaults = ExecutionConfig()
        for name in ("fee_per_order", "slippage_price", "spread", "spread_price", "fill",
                     "leverage", "pyramiding"):
            if getattr(self, name) != getattr(defaults, name):
                out[name] = getattr(self, name)
        if self.sizing != defaults.sizing:
            out["sizing"] = _describe_sizing(self.sizing)
        for side in ("long", "short"):
            out.update({f"{side}.{key}": value for key, value in _describe_side(self.side(side)).items()})
        return out


def _describe_sizing(sizing: Sizing) -> str:
    text = {"equity": f"{_percent(sizing.value)} of equity", "units": f"{sizing.value:.10g} units",
            "cash": f"{sizing.value:.10g} cash", "risk": f"risk {_percent(sizing.value)} to stop"}[sizing.mode]
    extras = [f"min_qty {sizing.min_qty:g}" if sizing.min_qty else "",
              f"qty_step {sizing.qty_step:g}" if sizing.qty_step else ""]
    return ", ".join([text, *filter(None, extras)])


def _describe_side(rules: SideRules) -> dict[str, Any]:
    out: dict[str, Any] = {name: _level_text(level.mode, level.value)
                           for name, level in rules.levels().items() if level is not None}
    if rules.exit_after is not None:
        out["exit_after"] = rules.exit_after
    if rules.exit_portion is not None:
        out["exit_portion"] = (_percent(rules.exit_portion) if not isinstance(rules.exit_portion, str)
                               else _value_text(rules.exit_portion))
    if rules.ladder:
        out["ladder"] = ", ".join(f"{_level_text(r.level.mode, r.level.value)} exit {_percent(r.portion)}"
                                  for r in rules.ladder)
    if rules.entry.kind != "market":
        out["entry"] = f"{rules.entry.kind} {_value_text(rules.entry.price)}" + (  # type: ignore[arg-type]
            f" expire {rules.entry.expire}" if rules.entry.expire else "")
    return out


def _value_text(value: float | str) -> str:
    return f"per bar ({value})" if isinstance(value, str) else f"{value:.10g}"


def _level_text(mode: str, value: float | str) -> str:
    """`2%` for a constant percentage (as the script wrote it), else the mode and the value."""
    if mode == "percent" and not isinstance(value, str):
        return _percent(value)
    return f"{mode} {_value_text(value)}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.10g}%"


def _check_portion(name: str, value: float) -> None:
    if not (0.0 < value <= 1.0):
        raise ValueError(f"{name} must be a fraction in (0, 1], got {value!r}")


def _check_fraction(name: str, value: float, limit: float) -> None:
    if not (math.isfinite(value) and 0.0 <= value <= limit):
        raise ValueError(
            f"{name} must be a fraction in [0, {limit:g}] (0.0005 means 0.05 %), got {value!r}"
        )


def level_values(config: ExecutionConfig) -> list[float | str]:
    """The value of each of the kernel's risk-level slots (stop, target, trailing, break-even,
    entry price and exit portion, long then short): a constant, NaN for none, or the name of a
    per-bar series."""
    values: list[float | str] = []
    for rules in (config.long, config.short):
        values += [level.value if level else math.nan for level in rules.levels().values()]
        values.append(math.nan if rules.entry.price is None else rules.entry.price)
        values.append(math.nan if rules.exit_portion is None else rules.exit_portion)
    return values
