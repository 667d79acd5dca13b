"""What a builtin is, and the helpers the library declares its builtins with: a `Builtin`'s
parameters (`ParamSpec`: name, kind, default), result type, lowering to Polars, naive reference
(the oracle the compiler is tested against), doc and example.

Below both the library (tradebot/lang/library/*.py, which declares builtins with these) and the
registry (lang/builtins.py, which collects them), so the library never imports the registry:
any of its modules can be imported first.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .types import NUMBER_SERIES, ArgKind, Kind, Type

REQUIRED = object()  # marks a parameter without a default


@dataclass(frozen=True)
class PriceDefault:
    """A series parameter whose default is a price series, e.g. `atr(14)` reads high/low/close
    unless the caller passes others (`atr(14, high=high @ 4h, ...)`)."""

    series: str

    def __repr__(self) -> str:
        return self.series


@dataclass(frozen=True)
class ParamSpec:
    """One builtin parameter."""

    name: str
    kind: ArgKind
    default: Any = REQUIRED
    doc: str = ""
    minimum: float | None = None  # constants only: the smallest allowed value
    # strings only: (message, hint) when a value is refused (a time zone, a session), else None
    validate: Callable[[str], tuple[str, str | None] | None] | None = field(default=None, compare=False)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Builtin:
    """A builtin series, function or indicator.

    lower(*args) -> pl.Expr, or dict[field, pl.Expr] for a multi-output builtin. Series arguments
    arrive as pl.Expr, constants as Python values, in parameter order.
    reference(*args) -> np.ndarray (float64, NaN = missing), or dict[field, ndarray]. Series
    arguments arrive as float64 arrays; for series builtins (no parameters) it receives the bars.
    """

    name: str
    params: tuple[ParamSpec, ...]
    returns: Type
    lower: Callable[..., Any]
    reference: Callable[..., Any]
    doc: str
    example: str
    category: str
    elementwise: bool = False  # all-constant arguments give a constant (folded when compiling)
    is_series: bool = False  # a price series such as `close`: used by name, never called
    bare: bool = False  # also usable by name, meaning the call with every default (`hour`)
    see_also: tuple[str, ...] = field(default=())
    # The bar of its first value, as a formula over its parameters' names (`max(fast, slow) +
    # signal - 2`) that lang/lookback.py evaluates with a call's arguments; "until ..." when the
    # first value waits for an event (`barssince`). docs/builtins.md prints it.
    warmup: str = "0"
    source: str = ""  # the TA-Lib function it equals, or the published definition it follows

    @property
    def fields(self) -> tuple[str, ...]:
        return self.returns.fields

    def signature(self) -> str:
        if self.is_series:
            return self.name
        parts = []
        for p in self.params:
            text = f"{p.name}: {p.kind.value}"
            parts.append(text if p.required else f"{text} = {p.default!r}")
        ret = self.returns.describe() if self.returns.kind is Kind.RECORD else self.returns.kind.value
        return f"{self.name}({', '.join(parts)}) -> {ret}"

    def summary(self) -> str:
        """The doc's first sentence, for completion menus and `:help` listings."""
        return self.doc.split(". ")[0].rstrip(".") + "."


# ---- helpers library modules use to declare parameters tersely


def series(name: str = "src", doc: str = "the input series") -> ParamSpec:
    return ParamSpec(name, ArgKind.SERIES, doc=doc)


def price(name: str) -> ParamSpec:
    """A series parameter defaulting to the price series of the same name."""
    return ParamSpec(name, ArgKind.SERIES, PriceDefault(name), f"defaults to `{name}`")


# The bar's prices as an indicator's trailing parameters, each defaulting to its own series.
HL = (price("high"), price("low"))
HLC = (*HL, price("close"))
HLCV = (*HLC, price("volume"))
OHLC = (price("open"), *HLC)


def condition(name: str = "cond", doc: str = "a condition") -> ParamSpec:
    return ParamSpec(name, ArgKind.BOOL_SERIES, doc=doc)


def length(name: str = "length", default: Any = REQUIRED, doc: str = "window length in bars") -> ParamSpec:
    return ParamSpec(name, ArgKind.LENGTH, default, doc, minimum=1)


def window_length(name: str = "length", default: Any = REQUIRED,
                  doc: str = "window length in bars: a constant, or a series (each bar's own)") -> ParamSpec:
    return ParamSpec(name, ArgKind.WINDOW, default, doc, minimum=1)


def number(name: str, default: Any = REQUIRED, doc: str = "", minimum: float | None = None) -> ParamSpec:
    return ParamSpec(name, ArgKind.NUMBER, default, doc, minimum)


def integer(name: str, default: Any = REQUIRED, doc: str = "", minimum: float | None = 0) -> ParamSpec:
    return ParamSpec(name, ArgKind.INT, default, doc, minimum)


def indicator(name: str, params: tuple[ParamSpec, ...], lower: Callable[..., Any],
              reference: Callable[..., Any], *, doc: str, example: str, category: str,
              returns: Type = NUMBER_SERIES, elementwise: bool = False,
              see_also: tuple[str, ...] = (), bare: bool = False, warmup: str = "0", source: str = "") -> Builtin:
    return Builtin(name, params, returns, lower, reference, doc, example, category,
                   elementwise=elementwise, see_also=see_also, bare=bare, warmup=warmup, source=source)


def text(name: str, default: Any = REQUIRED, doc: str = "",
         validate: Callable[[str], tuple[str, str | None] | None] | None = None) -> ParamSpec:
    """A constant string parameter, checked by `validate` when the script is checked."""
    return ParamSpec(name, ArgKind.STRING, default, doc, validate=validate)
