"""The one interpreter that runs every recursion and every rule reading position state: a stack
machine compiled by numba once per installation (`cache=True`), whatever the script. A new or
edited script only produces new bytecode (lang/stateful/bytecode.py), never new machine code.
The plan's recursions call `run`; the engine inlines `run_bar` into its own bar loop
(runtime/kernel.py), so engine and interpreter are one compiled function.

Values are float64; missing is NaN; conditions are 1.0 / 0.0 / NaN with three-valued `and`/`or`
(the rules of docs/language.md, "Missing values"). Numba's cache checks only this file's
timestamp, so the opcodes are repeated here as literals from opcodes.py (a test keeps them equal).
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

EXP_MAX = float(np.log(np.finfo(np.float64).max))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _binary(op, a, b):  # noqa: C901 - one branch per instruction
    if op < 30 or op == 30 or op == 31:
        if op == 30:  # and: false wins over missing
            if a == 0.0 or b == 0.0:
                return 0.0
            return math.nan if (a != a or b != b) else 1.0
        if op == 31:  # or: true wins over missing
            if a == 1.0 or b == 1.0:
                return 1.0
            return math.nan if (a != a or b != b) else 0.0
        if a != a or b != b:
            return math.nan
        if op == 10:
            return a + b
        if op == 11:
            return a - b
        if op == 12:
            return a * b
        if op == 13:
            return math.nan if b == 0.0 else a / b
        if op == 14:
            if a == 0.0 and b < 0.0:
                return math.nan
            if a < 0.0 and b != math.floor(b):
                return math.nan
            return a ** b
        if op == 20:
            return 1.0 if a < b else 0.0
        if op == 21:
            return 1.0 if a <= b else 0.0
        if op == 22:
            return 1.0 if a > b else 0.0
        if op == 23:
            return 1.0 if a >= b else 0.0
        if op == 24:
            return 1.0 if a == b else 0.0
        return 1.0 if a != b else 0.0
    if op == 42:  # nz
        return b if a != a else a
    if a != a or b != b:
        return math.nan
    if op == 40:
        return min(a, b)
    return max(a, b)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _unary(op, a):
    if a != a:
        return math.nan
    if op == 50:
        return -a
    if op == 51:
        return 1.0 - a
    if op == 52:
        return abs(a)
    if op == 53:
        return math.sqrt(a) if a >= 0.0 else math.nan
    if op == 54:
        return math.log(a) if a > 0.0 else math.nan
    if op == 55:
        return math.exp(a) if a <= EXP_MAX else math.nan
    return 1.0 if a > 0.0 else (-1.0 if a < 0.0 else 0.0)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _ternary(op, a, b, c):
    if op == 60:  # if a then b else c
        if a != a:
            return math.nan
        return b if a == 1.0 else c
    if a != a or b != b or c != c:  # clip
        return math.nan
    return min(max(a, b), c)


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _cell(t, width):
    """The column of bar t in a member matrix `width` bars wide: the bar itself when the matrix
    holds every bar, a ring slot when it holds only the last `width` (the engine's rings are a
    power of two wide: a mask, where a division would cost more than most instructions)."""
    if t < width:
        return t
    if width & (width - 1) == 0:
        return t & (width - 1)
    return t % width


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _prior(out, member, t, back):
    bar = t - back
    return out[member, _cell(bar, out.shape[1])] if bar >= 0 else math.nan


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def run_segment(code, consts, inputs, row, out, t, regs, stack, begin, end):
    """One member's formula on bar t: instructions code[begin:end] over input row `row` (the
    inputs may hold every bar or only this one), the members' values `out` (bar t is column t,
    or slot t % width of a ring), and the registers `regs` (position state)."""
    sp = 0
    for pc in range(begin, end, 3):
        op = code[pc]
        if op == 1:
            stack[sp] = inputs[code[pc + 1], row]
            sp += 1
        elif op == 0:
            stack[sp] = consts[code[pc + 1]]
            sp += 1
        elif op == 3:
            stack[sp] = _prior(out, code[pc + 1], t, code[pc + 2])
            sp += 1
        elif op == 2:
            stack[sp] = out[code[pc + 1], _cell(t, out.shape[1])]
            sp += 1
        elif op == 4:
            stack[sp] = regs[code[pc + 1]]
            sp += 1
        elif op >= 100:  # a binary instruction with its right operand folded in (opcodes.FUSED)
            kind = op // 100
            index = code[pc + 1]
            if kind == 1:
                right = consts[index]
            elif kind == 2:
                right = inputs[index, row]
            else:
                right = _prior(out, index, t, code[pc + 2])
            stack[sp - 1] = _binary(op - 100 * kind, stack[sp - 1], right)
        elif op < 50:
            sp -= 1
            stack[sp - 1] = _binary(op, stack[sp - 1], stack[sp])
        elif op < 60:
            stack[sp - 1] = _unary(op, stack[sp - 1])
        elif op == 70:  # FROM_BAR
            if t < code[pc + 1]:
                stack[sp - 1] = math.nan
        else:
            sp -= 2
            stack[sp - 1] = _ternary(op, stack[sp - 1], stack[sp], stack[sp + 1])
    return stack[0]


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def run_bar(code, consts, inputs, row, out, t, regs, stack, segments, started, needs, want):
    """The members on bar t, in `segments` order (rows: member, body start, body end, start
    start, start end): a member is its start value until its body first has a value. Only the
    segments s with `needs[s] & want` run (the engine skips what cannot matter on this bar: see
    runtime/program.py `segment_needs`); `run` runs them all.

    Inlined into the engine's bar loop (runtime/kernel.py) as into `run`: called, it passed its
    dozen arrays on every bar, about 24 ns a bar on a million bars, a third of a position-state
    program's cost (docs/benchmarks.md, "Position state"); inlined, the first compile after
    installing takes about 5 s more. One call site of the instruction switch serves the body and
    the start value alike: each copy of it adds seconds to that compile."""
    cell = _cell(t, out.shape[1])
    for s in range(segments.shape[0]):
        if needs[s] & want == 0:
            continue
        m, part = segments[s, 0], 0
        while True:  # the body; then, while the member has not started and the body is missing, its start
            value = run_segment(code, consts, inputs, row, out, t, regs, stack, segments[s, 1 + 2 * part],
                                segments[s, 2 + 2 * part])
            if part == 1 or started[m]:
                break
            if value == value:
                started[m] = True
                break
            part = 1
        out[m, cell] = value


@njit(cache=True, nogil=True, error_model="numpy")
def run(code, consts, inputs, segments, members, n, stack_size):
    """The members' series (members × n), bar by bar (a recursion of the plan: no registers)."""
    out = np.full((members, n), math.nan)
    started = np.zeros(members, dtype=np.bool_)
    stack = np.empty(stack_size)
    regs = np.empty(0)
    needs = np.ones(segments.shape[0], dtype=np.int64)
    for t in range(n):
        run_bar(code, consts, inputs, t, out, t, regs, stack, segments, started, needs, 1)
    return out
