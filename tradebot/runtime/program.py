"""Rules and risk values that read position state, as the engine runs them.

A script's rule `exit long when close < highest_since_entry(high) - 3 * atr(22)` cannot be
computed before the run: it reads the position, which the run creates. The language compiles
such rules (and the recursions they read) to a program for the stateful interpreter
(tradebot/vm; lang/stateful/position.py), and `pipeline.py` hands it here as plain arrays: this
module knows nothing of the language. The kernel runs it at each bar's close, inside its bar
loop (`kernel.state_rules`), so a new script brings new arrays, never new machine code.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np

from ..arrays import read_only
from ..vm import registers
from .execution import ExecutionConfig, level_values
from .signals import SIGNAL_NAMES


@dataclass(frozen=True)
class RuleProgram:
    """The program and its inputs.

    code, consts, segments, stack_size: the interpreter's bytecode (vm/interp.py `run_bar`) over
        `members` members; `width`: how many bars of members it reads back, plus one.
    outputs: which member gives each signal (`enter_long`, ...) or per-bar risk level (the
        level's series name in the config, `long.stop_loss`) the program computes.
    tracks: (input column, registers.TRACK_*) of each tracked value (highest_since_entry(x)).
    inputs: (columns, bars) the plan computed, NaN where missing.
    flat: per member, its value on a bar flat since the last close with nothing to enter, where
        that is a constant (else NaN): the engine writes it instead of running the program.
    """

    code: np.ndarray
    consts: np.ndarray
    segments: np.ndarray
    stack_size: int
    members: int
    width: int
    outputs: Mapping[str, int]
    tracks: np.ndarray
    inputs: np.ndarray = field(repr=False)
    flat: np.ndarray | None = None  # None: no member is known to be constant while flat

    def with_inputs(self, inputs: np.ndarray) -> RuleProgram:
        return replace(self, inputs=inputs)


def moving_slots(program: RuleProgram | None, config: ExecutionConfig) -> list[int]:
    """The risk-level slots whose value the program computes (moving levels)."""
    if program is None:
        return []
    return [s for s, value in enumerate(level_values(config))
            if isinstance(value, str) and value in program.outputs]


def split_modes(modes: np.ndarray, slots: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(the kernel's modes with the moving slots off, the moving slots' own modes): a moving level
    is not fixed at the fill, it is set at each close (`kernel.moving_levels`)."""
    fixed, moving = np.array(modes), np.zeros_like(modes)
    fixed[slots], moving[slots] = 0, modes[slots]
    return read_only(fixed), read_only(moving)


def kernel_program(program: RuleProgram | None, config: ExecutionConfig,
                   modes: np.ndarray) -> tuple[np.ndarray, tuple[Any, ...]]:
    """(the kernel's modes, its `program` argument). The members' values are kept in a ring of
    the bars the program reads back, a power of two wide (`vm.interp.ring_cell`): a run's own rows
    of every bar cost a fresh matrix the size of the inputs, and memory bound writes."""
    from . import kernel as kn

    if program is None:
        return modes, kn.no_program()
    slots = np.full(4 + kn.R_SLOTS, -1, dtype=np.int64)
    for s, name in enumerate(SIGNAL_NAMES):
        slots[s] = program.outputs.get(name, -1)
    values = level_values(config)
    moving = moving_slots(program, config)
    for s in moving:
        slots[4 + s] = program.outputs[values[s]]  # type: ignore[index]
    fixed, moving_modes = split_modes(modes, moving)
    width = 1 << max(program.width - 1, 0).bit_length()
    inputs = np.ascontiguousarray(program.inputs, dtype=np.float64)
    out = np.full((program.members, width), np.nan)
    regs = np.full(registers.TRACKS + program.tracks.shape[0], np.nan)
    for register, value in registers.WHILE_FLAT.items():
        regs[register] = value
    flat = np.full(program.members, np.nan) if program.flat is None else program.flat
    arrays = (read_only(program.code), read_only(program.consts), read_only(program.segments),
              read_only(inputs.view()), out, np.zeros(program.members, dtype=np.bool_), regs,
              np.zeros(max(program.stack_size, 1)), read_only(slots),
              read_only(np.ascontiguousarray(program.tracks, dtype=np.int64)), moving_modes,
              read_only(segment_needs(program.code, program.consts, program.segments, slots)),
              read_only(np.ascontiguousarray(flat, dtype=np.float64)))
    return fixed, arrays


def segment_needs(code: np.ndarray, consts: np.ndarray, segments: np.ndarray,
                  slots: np.ndarray) -> np.ndarray:
    """Per segment, the bits (kernel.NEED_*) of what needs its member on a bar: NEED_ALWAYS for
    a member whose past is read (`x[1]`: it must have a value on every bar) or that has a start
    value (whether it has started depends on every bar), and whatever they read on the same
    bar; else the signals and the side's moving levels whose member reads it. The engine runs
    only the segments a bar needs (`kernel.state_rules`): an exit rule's member does not run
    while flat, unless an entry on the bar could be voided by it."""
    from . import kernel as kn

    ops = code.reshape(-1, 3)
    members = int(segments[:, 0].max()) + 1 if len(segments) else 0
    now: list[set[int]] = [set() for _ in range(members)]
    bits = np.zeros(members, dtype=np.int64)
    for m, body, _, start, end in segments.tolist():
        for op, a, _b in ops[body // 3:end // 3].tolist():
            if op == 2:
                now[m].add(a)
            elif op == 3 or op >= 3 * 100:  # opcodes PRIOR, or a binary with a PRIOR folded in
                bits[a] |= kn.NEED_ALWAYS
        if not _no_start(ops[start // 3:end // 3], consts):
            bits[m] |= kn.NEED_ALWAYS
    for slot, m in enumerate(slots.tolist()):
        if m >= 0:
            bits[m] |= _slot_need(slot)
    for m in sorted(range(members), key=lambda m: -_order(segments, m)):  # readers first
        for read in now[m]:
            bits[read] |= bits[m]
    return bits[segments[:, 0]] if members else np.zeros(0, dtype=np.int64)


def _order(segments: np.ndarray, member: int) -> int:
    """The position of `member`'s segment (a member reads on the same bar only earlier ones)."""
    return int(np.flatnonzero(segments[:, 0] == member)[0])


def _no_start(start: np.ndarray, consts: np.ndarray) -> bool:
    """Whether a start value is nothing, or missing: the member is then its body on every bar."""
    if len(start) == 0:
        return True
    return len(start) == 1 and start[0, 0] == 0 and bool(np.isnan(consts[start[0, 1]]))


def _slot_need(slot: int) -> int:
    """The NEED_* bit of the kernel's program slot `slot` (signals, then long then short levels)."""
    from . import kernel as kn

    if slot < 4:
        return kn.NEED_SIGNAL << slot
    return kn.NEED_LONG_LEVELS if slot < 4 + kn.R_KINDS else kn.NEED_SHORT_LEVELS
