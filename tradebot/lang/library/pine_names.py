"""Pine Script names and what to write instead: the one table the checker's "unknown name",
"unknown function" and "unknown setting" paths (and the parser, for dotted names such as
`ta.rsi` and `strategy.position_avg_price`) consult before guessing by spelling.

A spelling guess is worse than no hint when it points the wrong way: `crossover` is closest to
`cross` (either direction) and `crossunder` to `round`. So a Pine name gets its translation, and
`ta.` / `math.` names the builtin of the same name when there is one. Hints may quote the call's
arguments: `{0}` and `{1}` are the first two as written (or `a` and `b`).
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")

POSITION_STATE = ("position state is a set of builtins (docs/language.md, \"Position state\"): "
                  "`entry_price`, `position_size`, `open_profit`, `open_entries`, `bars_since_entry`")
INPUT = ("a tunable value is a param: `param length = 14 in 5..30`, `param use_filter = true`, "
         "`param mode = \"fast\" in [\"fast\", \"slow\"]`")
ORDERS = ("orders are rules: `enter long when COND`, `exit long when COND` (and `stop_loss`, "
          "`take_profit` settings for exit prices)")

PINE_NAMES: Mapping[str, str] = {
    "crossover": "write `{0} crosses above {1}`",
    "crossunder": "write `{0} crosses below {1}`",
    "ta.cross": "write `cross({0}, {1})` (either direction), or `{0} crosses above {1}`",
    "security": "another timeframe of the same data is `expr @ 4h` (e.g. `rsi(close, 14) @ 1d`); "
                "other symbols are not supported",
    "request.security": "another timeframe of the same data is `expr @ 4h` (e.g. `rsi(close, 14) @ 1d`); "
                        "other symbols are not supported",
    "var": "a definition is a whole series (`x = ...`); a series that reads its own past is not "
           "supported yet",
    "plot": "scripts do not draw; `tradebot eval SCRIPT --series NAME` exports a named series",
    "plotshape": "scripts do not draw; `tradebot eval SCRIPT --series NAME` exports a named series",
    "alertcondition": "scripts do not alert; `tradebot eval SCRIPT --series NAME` exports a condition",
    "input": INPUT, "input.int": INPUT, "input.float": INPUT, "input.bool": INPUT, "input.string": INPUT,
    "strategy.entry": ORDERS, "strategy.exit": ORDERS, "strategy.close": ORDERS, "strategy.order": ORDERS,
    "strategy.position_avg_price": "write `entry_price` (position state)",
    "strategy.position_size": "write `position_side * position_size` (position state: the side, "
                              "and the quantity held)",
    "strategy.opentrades": "write `open_entries` (position state)",
    "strategy.openprofit": "write `open_profit` (position state; `open_profit_pct` as a fraction)",
    "strategy.position_entry_name": POSITION_STATE, "position_avg_price": "write `entry_price` (position state)",
    "ta.bb": "write `bbands({0}, 20, 2)` and pick a field: `.upper`, `.middle`, `.lower`",
    "ta.kc": "write `keltner(...)` and pick a field (docs/builtins.md)",
    "ta.stoch": "write `stoch(14, 1, 3).k` (its fields are `.k` and `.d`)",
    "ta.pivothigh": "write `pivothigh({0}, LEFT, RIGHT)` (the source first)",
    "ta.pivotlow": "write `pivotlow({0}, LEFT, RIGHT)` (the source first)",
    "ta.sar": "write `sar(0.02, 0.2)` (acceleration, maximum)",
    "math.pow": "write `{0} ^ {1}`",
    "dayofweek.sunday": "dayofweek counts ISO days: 1 = Monday ... 7 = Sunday (Pine counts 1 = Sunday)",
    "timeframe.period": "a script runs on its data's timeframe; `expr @ 4h` reads a higher one",
    "barstate.isconfirmed": "rules only see closed bars: every value is as of the bar's close",
    "time_close": "`time` is the bar's open time in ms; sessions are `in_session(\"09:30-16:00\", TZ)`",
}
NAMESPACES = ("ta.", "math.", "str.")  # Pine namespaces whose members keep their names here


def pine_hint(name: str, builtins: Mapping[str, object], args: Sequence[str] = ()) -> str | None:
    """What to write instead of the Pine name `name`, or None when it is not one. `builtins` is
    the registry (its names are what `ta.rsi` and friends become); `args`, the call's arguments
    as written, fill the hint's `{0}` and `{1}`."""
    filled = [*args[:2], *("a", "b")[len(args[:2]):]]
    if name in PINE_NAMES:
        return PINE_NAMES[name].format(*filled)
    for prefix in NAMESPACES:
        if name.startswith(prefix):
            bare = name[len(prefix):]
            if bare in PINE_NAMES:
                return PINE_NAMES[bare].format(*filled)
            if bare in builtins:
                return f"write `{bare}`: builtins have no `{prefix}` prefix"
    return None


def dotted_name_at(source: str, position: int) -> str | None:
    """The dotted name (`strategy.position_avg_price`) starting at `position`, if any: the
    parser stops at its first word when that is a keyword, before the checker could see it."""
    found = _DOTTED.match(source, position)
    return found.group() if found else None
