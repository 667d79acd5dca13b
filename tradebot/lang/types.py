"""The types of .tbs values.

A value has a kind (number, bool, string, or a record of named number series for multi-output
indicators) and is either a *series* (one value per bar) or a *constant* (known when the script is
compiled: literals, params and arithmetic on them). There are no run-time scalars.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    NUMBER = "number"
    BOOL = "bool"
    STRING = "string"
    RECORD = "record"


@dataclass(frozen=True)
class Type:
    kind: Kind
    series: bool
    fields: tuple[str, ...] = ()  # for RECORD: the names of its number series

    def describe(self) -> str:
        if self.kind is Kind.RECORD:
            return "several series (" + ", ".join(self.fields) + ")"
        return f"{self.kind.value} {'series' if self.series else 'constant'}"

    def as_series(self) -> Type:
        return Type(self.kind, True, self.fields)


NUMBER_SERIES = Type(Kind.NUMBER, True)
BOOL_SERIES = Type(Kind.BOOL, True)
NUMBER_CONST = Type(Kind.NUMBER, False)
BOOL_CONST = Type(Kind.BOOL, False)
STRING_CONST = Type(Kind.STRING, False)


def record(*fields: str) -> Type:
    return Type(Kind.RECORD, True, tuple(fields))


class ArgKind(Enum):
    """What a builtin parameter accepts; the checker enforces it, the compiler relies on it."""

    SERIES = "number series"  # a number series (a constant is broadcast to every bar)
    BOOL_SERIES = "bool series"  # a condition (a constant is broadcast)
    LENGTH = "length"  # a constant whole number >= 1 (window sizes must be known to compile)
    WINDOW = "length or series"  # a LENGTH, or a number series: each bar's window length
    INT = "whole number"  # a constant whole number (its own minimum in the param spec)
    NUMBER = "number"  # a constant number
    STRING = "string"  # a constant string

    @property
    def is_constant(self) -> bool:
        return self in (ArgKind.LENGTH, ArgKind.INT, ArgKind.NUMBER, ArgKind.STRING)
