"""The VM's instruction set. Each instruction is a triple (op, a, b) of int64.

Kept apart from interp.py so that compiling a script (lang/stateful/bytecode.py) never imports
numba.
"""
from __future__ import annotations

# Push one value.
CONST = 0  # consts[a]
INPUT = 1  # inputs[a, t]: a column the plan computed
MEMBER = 2  # out[a, t]: a member already computed on this bar
PRIOR = 3  # out[a, t - b]: a member b bars ago (missing before the first bar)
STATE = 4  # regs[a]: a register the engine sets before each bar's run (position state)
# Pop two, push one.
ADD, SUB, MUL, DIV, POW = 10, 11, 12, 13, 14
LT, LE, GT, GE, EQ, NE = 20, 21, 22, 23, 24, 25
AND, OR = 30, 31
MIN, MAX, NZ = 40, 41, 42
# Pop one, push one.
NEG, NOT, ABS, SQRT, LOG, EXP, SIGN = 50, 51, 52, 53, 54, 55, 56
# Pop three, push one.
IF, CLIP = 60, 61
# The top is missing before bar a: the value of an expression a bars back, which has no bar to be
# computed on before then (`nz(s[1], 1)[1]` on the first bar is missing, not 1).
FROM_BAR = 70
# A binary instruction whose right operand is a push folds it in: op + FUSED * (1 const,
# 2 input, 3 prior), with the push's a and b (half the instructions of a typical formula).
FUSED = 100
FUSABLE = {CONST: 1, INPUT: 2, PRIOR: 3}
