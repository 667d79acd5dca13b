"""The per-bar trading intents the compiler hands to the runtime.

A `.tbs` script compiles to four boolean series, evaluated on each bar's close. The caller turns
missing values (indicator warm-up) into False before building `Signals`, so the runtime never sees
a null: "no signal" and "unknown" are the same thing here by contract.

Risk levels that change from bar to bar (`stop_loss 3 * atr(14)`, a limit entry's price) travel
alongside as named float arrays in `levels`; `ExecutionConfig` refers to them by name. Missing
values are NaN there: an entry whose declared level is missing on its signal bar is not taken.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

SIGNAL_NAMES = ("enter_long", "exit_long", "enter_short", "exit_short")


@dataclass(frozen=True)
class Signals:
    """Four boolean arrays of the same length as the bars (one value per bar close)."""

    enter_long: np.ndarray
    exit_long: np.ndarray
    enter_short: np.ndarray
    exit_short: np.ndarray
    levels: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = set()
        for name in SIGNAL_NAMES:
            array = _as_bool_array(name, getattr(self, name))
            object.__setattr__(self, name, array)
            lengths.add(array.shape[0])
        if len(lengths) > 1:
            raise ValueError(f"signal arrays differ in length: {sorted(lengths)}")
        levels = {name: _as_float_array(name, values) for name, values in self.levels.items()}
        for name, array in levels.items():
            if array.shape[0] != self.enter_long.shape[0]:
                raise ValueError(f"level {name!r} has {array.shape[0]} values for "
                                 f"{self.enter_long.shape[0]} bars")
        object.__setattr__(self, "levels", MappingProxyType(levels))

    def __len__(self) -> int:
        return int(self.enter_long.shape[0])

    @classmethod
    def none(cls, n: int) -> Signals:
        """No signal on any of `n` bars (a strategy that never trades)."""
        return cls(*(np.zeros(n, dtype=np.bool_) for _ in SIGNAL_NAMES))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The four arrays in the kernel's argument order."""
        return (self.enter_long, self.exit_long, self.enter_short, self.exit_short)


def _as_float_array(name: str, values: object) -> np.ndarray:
    """A 1-D, C-contiguous float64 array (missing values as NaN)."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"level {name!r} must be one-dimensional, got shape {array.shape}")
    return np.ascontiguousarray(array)


def _as_bool_array(name: str, values: object) -> np.ndarray:
    """A 1-D, C-contiguous numpy bool array; no copy when `values` already is one."""
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if array.dtype != np.bool_:
        # Refuse numbers and objects: a 0/1 float array is fine to cast, NaN is not (the caller
        # must have decided what a missing value means).
        if array.dtype.kind not in "biu":
            raise TypeError(f"{name} must hold booleans, got dtype {array.dtype}")
        array = array.astype(np.bool_)
    return np.ascontiguousarray(array)
