"""A declared `param`: its default, the value in use, the domain the optimizer may search, and
how each is written back in messages and reports. The checker makes them (checker.py), the
optimize statement's checks and the search space read them (optimize_check.py, optimize/space.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from . import ast, ir
from .ast import Span
from .types import BOOL_CONST, NUMBER_CONST, STRING_CONST


@dataclass(frozen=True)
class ParamInfo:
    """A declared param: its default, the value in use, and the domain the optimizer may search."""

    name: str
    default: float
    value: float
    is_int: bool
    is_percent: bool
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[float, ...] | None = None
    span: Span = field(default=ast.NOWHERE, compare=False, repr=False)
    # A boolean or string param: (False, True) or its strings. Its value, default and choices
    # are then positions in `labels`, so the optimizer searches it as a whole-number dimension.
    labels: tuple[bool | str, ...] | None = None

    @property
    def label(self) -> bool | str | float:
        """The value as the script sees it: a number, true/false, or a string."""
        return self.labels[int(self.value)] if self.labels is not None else self.value

    def code_of(self, value: object) -> float | None:
        """An override (`--set`, or the optimizer's position) as a value of this param, or None
        when it is not one (`true` for a number, `"x"` for a bool)."""
        if self.labels is None:
            return None if isinstance(value, (bool, str)) else float(value)  # type: ignore[arg-type]
        if isinstance(value, str) and isinstance(self.labels[0], bool):
            value = {"true": True, "false": False}.get(value.lower(), value)
        if isinstance(value, (bool, str)):
            matches = [i for i, label in enumerate(self.labels) if type(label) is type(value) and label == value]
            return float(matches[0]) if matches else None
        return float(value)  # type: ignore[arg-type]  # a position, from the optimizer

    def value_text(self) -> str:
        """The value as written in a script: `14`, `0.5`, `true`, `"breakout"`."""
        return _label_text(self.labels[int(self.value)]) if self.labels is not None else number_text(self.value, self.is_int)

    def domain_text(self) -> str:
        if self.labels is not None:
            shown = [_label_text(self.labels[int(c)]) for c in (self.choices or range(len(self.labels)))]
            return "[" + ", ".join(shown) + "]"
        if self.choices is not None:
            return "[" + ", ".join(self.written(c) for c in self.choices) + "]"
        if self.low is None:
            return "(no range)"
        step = f" step {self.written(self.step)}" if self.step is not None else ""
        return f"{self.written(self.low)}..{self.written(self.high)}{step}"

    def written(self, value: float | None) -> str:
        """A value as the script writes it: `0.25%` for a percentage param, `10` for a whole one."""
        if self.is_percent and value is not None:
            return f"{number_text(value * 100, False)}%"
        return number_text(value, self.is_int and (value is None or float(value).is_integer()))

    def admits(self, value: float) -> bool:
        if self.is_int and not float(value).is_integer():  # int(inf) would raise
            return False
        if self.choices is not None:
            return value in self.choices
        if self.low is not None and not (self.low <= value <= self.high):  # type: ignore[operator]
            return False
        return True

    def on_step(self, value: float) -> bool:
        """Whether `value` is one of `low + k * step` (what a sweep tries); true without a step.
        The tolerance absorbs binary fractions: 0.1 + 2 * 0.1 is on a 0.1 grid."""
        if self.step is None or self.low is None:
            return True
        k = round((value - self.low) / self.step)
        return abs(self.low + k * self.step - value) <= 1e-9 * max(abs(value), abs(self.step), 1e-12)

    def nearest_steps(self, value: float) -> list[str]:
        """The allowed values next to `value` (the ends of the range when it is outside)."""
        if self.step is None or self.low is None or self.high is None:
            return []
        last = self.low + math.floor((self.high - self.low) / self.step + 1e-9) * self.step
        below = self.low + math.floor((value - self.low) / self.step) * self.step
        near = [min(max(v, self.low), last) for v in (below, below + self.step)]
        return [self.written(v) for v in dict.fromkeys(near)]


def _label_text(label: bool | str) -> str:
    return ("true" if label else "false") if isinstance(label, bool) else f'"{label}"'


def number_text(value: float | None, is_int: bool) -> str:
    """A number as a script writes it (`?` for none)."""
    if value is None:
        return "?"
    return str(int(value)) if is_int else f"{value:g}"


def param_value(info: ParamInfo, span: Span) -> ir.Const:
    """A param as the constant its uses read (a boolean or string param as its label)."""
    if info.labels is not None:  # `param use_filter = true`, `param mode = "a" in [...]`
        kind = BOOL_CONST if isinstance(info.label, bool) else STRING_CONST
        return ir.Const(info.label, kind, span)
    return ir.Const(int(info.value) if info.is_int else info.value, NUMBER_CONST, span)
