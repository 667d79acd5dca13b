"""The execution vocabulary: the words a script uses to say how orders execute, and their bounds.

The language checks scripts against these (`lang/settings.py`), the runtime validates its config
against the same ones (`runtime/execution.py`), and the kernel's integer codes follow the order of
these tuples (`runtime/kernel.py` F_* and S_*; tests/runtime/test_kernel.py checks it). One list
each, so a word added here is known on both sides of the lang/runtime line.
"""
from __future__ import annotations

FILL_POLICIES = ("pessimistic", "optimistic", "open_proximity")  # kernel F_* order
SIZING_MODES = ("equity", "units", "cash", "risk")  # kernel S_* order
LEVEL_MODES = ("percent", "distance", "price")
ORDER_KINDS = ("market", "limit", "stop")
# Why a trade closed, in the order of the kernel's EXIT_* codes (a script compares
# `last_exit_reason == "stop"`; codes are appended, never renumbered).
EXIT_REASONS = ("signal", "reversal", "end_of_data", "stop", "target", "trailing", "time",
                "liquidation")

# Beyond these bounds a value is almost surely a unit mistake (5 meaning 5 %, not 500 %): a script
# may not write it, instead of producing a backtest that silently loses everything.
MAX_FEE = 0.05
MAX_SLIPPAGE = 0.05  # also the spread's
MAX_LEVERAGE = 100.0
MAX_PYRAMIDING = 100
MAX_RUNGS = 4  # laddered targets per side (`take_profit long 2% exit 50%`); kernel.MAX_RUNGS

# The optimizer's stress re-run multiplies every cost by this, so the runtime accepts costs up to
# this multiple of the bounds above.
COST_STRESS_FACTOR = 2.0
