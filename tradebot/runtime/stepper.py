"""A resumable backtest: the compiled kernel's `step`, one bar at a time, with exact snapshots.

`kernel.simulate` runs `kernel.step` over every bar inside numba. `Stepper` runs the very same
`step` from Python, one bar per `on_bar` call, for bars that arrive one by one (paper trading). It
holds the kernel's `State`, the open lots and the trade records (a buffer that grows), and writes
them to plain JSON values (`snapshot`) and back (`Stepper.restore`) with every float exact
(`float.hex`). A run stopped after any bar and restored therefore continues as if it had never
stopped: the same trades, equity and position, bit for bit, as one `simulate` over all the bars
(tests/runtime/test_stepper.py checks it for every split point).

The inputs are the kernel's own: the settings vectors of `engine.kernel_settings`, and per bar
the prices, the four signals and the value of each risk-level slot (`level_row`). Importing this
module imports numba (the kernel); `import tradebot.runtime` does not import it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..arrays import read_only
from . import kernel as kn
from .engine import kernel_settings
from .execution import ExecutionConfig
from .program import RuleProgram, kernel_program

SNAPSHOT_FORMAT = "tradebot-stepper/2"  # 2: the exit order carries its portion


@dataclass(frozen=True)
class BarOutcome:
    """One bar's result: equity marked at its close, the signed position after its fills, the
    drawdown from the running peak, and the trade records closed on it (kernel.T_* columns)."""

    equity: float
    position: float
    drawdown: float
    closed: np.ndarray


def level_row(levels: Sequence[np.ndarray], bar: int) -> tuple[float, ...]:
    """Bar `bar`'s value of each risk-level slot, from `engine.kernel_config`'s level arrays (a
    length-1 array is a constant)."""
    return tuple(float(values[bar] if values.shape[0] > 1 else values[0]) for values in levels)


class Stepper:
    """The kernel's state between bars, advanced by `on_bar`; see the module docstring."""

    def __init__(self, modes: np.ndarray, ints: np.ndarray, floats: np.ndarray,
                 program: tuple[Any, ...] | None = None) -> None:
        self._settings = tuple(read_only(np.array(v, dtype=d)) for v, d in
                               ((modes, np.int64), (ints, np.int64), (floats, np.float64)))
        self.state = kn.initial_state(self._settings[2])
        self.bars_seen = 0
        self._lots = np.zeros((int(kn.lot_rows(*self._settings[1:])), kn.LOT_FIELDS))
        self._trades = np.zeros((16, kn.TRADE_FIELDS))
        # The rules reading position state (kernel.PR_*), their members kept in a ring of the
        # bars they read back; `kn.no_program()` for a script without them.
        self._program = kn.no_program() if program is None else program

    @classmethod
    def for_config(cls, config: ExecutionConfig, program: RuleProgram | None = None) -> Stepper:
        """`program`: the script's rules reading position state (its inputs are given per bar)."""
        modes, ints, floats = kernel_settings(config)
        if program is not None:  # its inputs arrive bar by bar
            program = program.with_inputs(np.zeros((program.inputs.shape[0], 1)))
        modes, arrays = kernel_program(program, config, modes)
        return cls(modes, ints, floats, arrays)

    @property
    def program_inputs(self) -> int:
        """How many input values each bar gives the program (`on_bar(..., inputs=...)`)."""
        return int(self._program[kn.PR_INPUTS].shape[0])

    @property
    def trades(self) -> np.ndarray:
        """Every trade closed so far, in closing order (a copy)."""
        return self._trades[:self.state.k].copy()

    @property
    def lots(self) -> np.ndarray:
        """The open lots (kernel.Lot fields), oldest first (a copy)."""
        return self._lots[:self.state.book.lots].copy()

    def on_bar(self, bar: Sequence[float], signal_row: Sequence[bool], level_row: Sequence[float],
               *, is_last: bool = False, inputs: Sequence[float] = ()) -> BarOutcome:
        """Run the next bar: `bar` is (open, high, low, close), `signal_row` (enter_long,
        exit_long, enter_short, exit_short), `level_row` one value per risk-level slot
        (kernel.R_SLOTS), `inputs` the bar's value of each program input (`program_inputs`);
        `is_last` closes what is held at this close (end of data)."""
        if (len(bar), len(signal_row), len(level_row), len(inputs)) != (4, 4, kn.R_SLOTS, self.program_inputs):
            raise ValueError(f"a bar needs 4 prices, 4 signals, {kn.R_SLOTS} level values and "
                             f"{self.program_inputs} program inputs, got {len(bar)}, "
                             f"{len(signal_row)}, {len(level_row)} and {len(inputs)}")
        column = read_only(np.array(inputs, dtype=np.float64).reshape(-1, 1))
        program = (*self._program[:kn.PR_INPUTS], column, *self._program[kn.PR_INPUTS + 1:])
        before, t = self.state.k, self.bars_seen
        # A bar closes each lot at most once, plus a part of each on a partial exit.
        self._make_room(before + 2 * self._lots.shape[0] + 1)
        # The same argument types as `simulate` passes (read-only inputs): one compiled `step`.
        prices = [_one(price, np.float64) for price in bar]
        flags = [_one(flag, np.bool_) for flag in signal_row]
        levels = tuple(_one(value, np.float64) for value in level_row)
        out = [np.zeros(1) for _ in range(3)]
        self.state = kn.step(self.state, t, *prices, *flags, levels, *self._settings,
                             t if is_last else -1, self._lots, self._trades, *out, program)
        self.bars_seen += 1
        equity, position, drawdown = (float(array[0]) for array in out)
        return BarOutcome(equity, position, drawdown, self._trades[before:self.state.k].copy())

    def cancel_pending(self) -> bool:
        """Withdraw the standing entry order (a limit or stop entry waiting for its price, or a
        market entry for the next open): the state a bar leaves when nothing stands. Whether
        one stood."""
        pending = self.state.pending
        if pending.side == kn.FLAT:
            return False
        # Every field keeps its Python type (`step` is compiled for exact types; see `restore`).
        none = pending._replace(side=type(pending.side)(kn.FLAT), kind=type(pending.kind)(kn.O_MARKET),
                                level=math.nan, signal_bar=type(pending.signal_bar)(-1),
                                last_bar=type(pending.last_bar)(-1), risk=(math.nan,) * len(pending.risk))
        self.state = self.state._replace(pending=none)
        return True

    def _make_room(self, rows: int) -> None:
        """Grow the trade buffer (doubling) so that `step` can write up to `rows` records."""
        if rows > self._trades.shape[0]:
            grown = np.zeros((max(rows, 2 * self._trades.shape[0]), kn.TRADE_FIELDS))
            grown[:self.state.k] = self._trades[:self.state.k]
            self._trades = grown

    def snapshot(self, *, trades: bool = True) -> dict[str, Any]:
        """Everything needed to resume, as JSON values; floats as exact hex strings. `trades`
        False: their number only, for a caller that keeps the closed trades itself (a paper
        session journals each once; all of them in every snapshot would grow without end)."""
        modes, ints, floats = self._settings
        return {
            "format": SNAPSHOT_FORMAT,
            "bars_seen": self.bars_seen,
            "modes": [int(v) for v in modes],
            "ints": [int(v) for v in ints],
            "floats": _encode(tuple(floats)),
            "state": _encode(self.state),
            "lots": [_encode(tuple(row)) for row in self._lots[:self.state.book.lots]],
            "trades": [_encode(tuple(row)) for row in self._trades[:self.state.k]] if trades else int(self.state.k),
            "program": _encode_program(self._program),
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any], trades: np.ndarray | None = None) -> Stepper:
        """A `Stepper` exactly as it was when `snapshot` was taken; `trades`: the closed trades
        (kernel.T_* rows, at least as many as it counts) of a snapshot taken without them."""
        if snapshot.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"not a {SNAPSHOT_FORMAT} snapshot: format {snapshot.get('format')!r}")
        counted = snapshot["trades"] if isinstance(snapshot["trades"], int) else None
        if counted is not None and (trades is None or len(trades) < counted):
            raise ValueError(f"the snapshot counts {counted} trades; {0 if trades is None else len(trades)} given")
        floats = np.array([float.fromhex(v) for v in snapshot["floats"]])
        stepper = cls(np.array(snapshot["modes"]), np.array(snapshot["ints"]), floats,
                      _decode_program(snapshot["program"]) if "program" in snapshot else None)
        # Grow the (still empty) trade buffer before the state carries the snapshot's trade count:
        # growing copies the first `state.k` rows, more than a fresh buffer has past 16 trades.
        stepper._make_room(len(snapshot["trades"]) if counted is None else counted)
        # The freshly built state is the template of every field's type (numba compiles `step`
        # for exact types: an int where a float belongs would be another signature).
        stepper.state = _decode(stepper.state, snapshot["state"])
        stepper.bars_seen = int(snapshot["bars_seen"])
        lots = [[float.fromhex(v) for v in row] for row in snapshot["lots"]]
        stepper._lots[:len(lots)] = np.array(lots).reshape(len(lots), kn.LOT_FIELDS)
        if counted is None:
            rows = np.array([[float.fromhex(v) for v in row] for row in snapshot["trades"]])
        else:
            rows = np.asarray(trades, dtype=np.float64)[:counted]
        stepper._trades[:len(rows)] = rows.reshape(len(rows), kn.TRADE_FIELDS)
        return stepper


def _encode_program(program: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The program's arrays (bytecode, and the members, starts and registers so far) as JSON."""
    out = []
    for array in program:
        exact = array.dtype == np.float64
        values = [v.hex() for v in array.ravel().tolist()] if exact else array.ravel().tolist()
        out.append({"dtype": array.dtype.str, "shape": list(array.shape), "values": values,
                    "writeable": bool(array.flags.writeable)})
    return out


def _decode_program(data: list[dict[str, Any]]) -> tuple[np.ndarray, ...]:
    arrays = []
    for item in data:
        dtype = np.dtype(item["dtype"])
        values = [float.fromhex(v) for v in item["values"]] if dtype == np.float64 else item["values"]
        array = np.array(values, dtype=dtype).reshape(item["shape"])
        arrays.append(array if item["writeable"] else read_only(array))
    return tuple(arrays)


def _one(value: Any, dtype: type) -> np.ndarray:
    return read_only(np.array([value], dtype=dtype))


def _encode(value: Any) -> Any:
    """Tuples (named or not) as lists, ints as ints, floats as `float.hex` (exact, NaN and inf
    included)."""
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return float(value).hex()


def _decode(template: Any, data: Any) -> Any:
    """`data` from `_encode` back into the shape and types of `template`."""
    if isinstance(template, tuple):
        items = [_decode(t, d) for t, d in zip(template, data, strict=True)]
        return type(template)(*items) if hasattr(template, "_fields") else tuple(items)
    if isinstance(template, bool):
        return bool(data)
    if isinstance(template, int):
        return int(data)
    return float.fromhex(data)
