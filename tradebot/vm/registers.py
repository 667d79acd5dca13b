"""The position-state registers: what the engine writes before each bar's run of the rules that
read position state, and what the language's `STATE k` instruction reads (docs/language.md,
"Position state"). One table for both sides of the layering (lang compiles to these indices,
runtime/kernel.py fills them).

Every value is as of the bar's close, after its fills, before its orders; missing (NaN) where it
has no meaning (the entry values while flat, the exit values before the first exit).
"""
from __future__ import annotations

SIDE = 0  # 1 long, -1 short, 0 flat
SIZE = 1  # the quantity held (0 while flat)
ENTRY_PRICE = 2  # the open entries' average fill price, weighted by quantity
ENTRY_BAR = 3  # the bar the position was opened on (its first entry since flat)
BARS_SINCE_ENTRY = 4  # bars since ENTRY_BAR (0 on the entry bar)
OPEN_PROFIT = 5  # side * qty * (close - entry) less the entry fees, over the open entries
OPEN_PROFIT_PCT = 6  # OPEN_PROFIT / (qty * entry price), a fraction
OPEN_ENTRIES = 7  # how many entries are open (pyramiding)
BARS_SINCE_EXIT = 8  # bars since the last exit fill
LAST_EXIT_REASON = 9  # the last exit's reason code (an index into the engine's exit reasons)
TRACKS = 10  # register TRACKS + j: tracked value j (below)

# A tracked value follows an input column since the position's entry bar.
TRACK_MAX = 0  # highest_since_entry(x)
TRACK_MIN = 1  # lowest_since_entry(x)
TRACK_AT_ENTRY = 2  # x on the entry bar (entry_time: the entry bar's time)

# The registers on a bar flat since the last close, as the engine writes them; the two values of
# the last exit change while flat and are not here, and a tracked value is missing. A member
# whose formula these make a constant has that value on every such bar: the engine then writes
# it instead of running the program (`kernel.step`; lang/stateful/flat.py finds the constants).
WHILE_FLAT = {SIDE: 0.0, SIZE: 0.0, ENTRY_PRICE: float("nan"), ENTRY_BAR: float("nan"),
              BARS_SINCE_ENTRY: float("nan"), OPEN_PROFIT: float("nan"), OPEN_PROFIT_PCT: float("nan"),
              OPEN_ENTRIES: 0.0}
