"""docs/builtins.md, generated from the builtin registry (each builtin's doc, example,
warm-up and source).

    python -m tradebot.lang.tooling.docgen            # print the document
    python -m tradebot.lang.tooling.docgen --write    # rewrite docs/builtins.md
    python -m tradebot.lang.tooling.docgen --check    # exit 1 if docs/builtins.md is out of date

tests/lang/test_indicators_docs.py fails when the committed file differs from `render()`, or when
a builtin lacks a doc, an example, a source or a test.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from ..builtin_spec import Builtin, PriceDefault
from ..builtins import REGISTRY
from ..lookback import warmup_bars
from ..operators import OPERATORS

DOC_PATH = Path(__file__).resolve().parents[3] / "docs" / "builtins.md"

CATEGORIES = (
    ("price", "Price series", "Used by name, never called: `close`, `close[1]` (the previous bar)."),
    ("time", "Time and calendar", "The bar's open time in UTC, or in a time zone given by name "
     "(`hour(\"America/New_York\")`); `hour` alone is UTC. dayofweek counts 1 = Monday ... 7 = Sunday."),
    ("trend", "Trend", "Moving averages and trend-following lines."),
    ("momentum", "Momentum", "Oscillators and rates of change."),
    ("volatility", "Volatility", "Ranges, deviations and bands."),
    ("volume", "Volume", "Indicators weighing price by volume."),
    ("series", "Series functions", "Windows, changes and running values of any series."),
    ("signal", "Signal functions", "Conditions and state built from conditions."),
    ("math", "Math", "Bar-by-bar arithmetic; missing in, missing out (except `nz`)."),
    ("position", "Position state", "The trade the backtest holds, as of the bar's close before its "
     "orders (docs/language.md, \"Position state\"): usable in rules, in the definitions they read "
     "and in stop, target and trailing values; not inside `@ timeframe` or window functions."),
)

INTRO = """\
# Builtins

Every series, function and indicator of the .tbs language, grouped by family. This file is
generated from the builtin registry (`python -m tradebot.lang.tooling.docgen --write`); do not edit it by
hand — tests/lang/test_indicators_docs.py fails when it is out of date.

How to read an entry: the signature lists each parameter with its kind and default
(`length: length = 14` is a whole number >= 1 known when the script compiles; a `number series`
parameter takes any series or number). A parameter whose default is a price series (`high = high`)
reads that series unless you pass another, so `atr(14)` reads high, low and close. A multi-output
indicator returns several series: pick one with a field, `macd(close).signal`, or name the call,
`m = macd(close)`, and use `m.signal`. **Warm-up** is the number of bars at the start (after the
input's own warm-up) on which the result is missing; it matches TA-Lib's lookback wherever a
TA-Lib function is named. **Matches** names the TA-Lib function it equals (to 1e-9 relative,
tests/lang/test_talib.py) or the published definition it follows.
"""

MISSING = """\
## Missing values

A value is *missing* during an indicator's warm-up, before the first bar (`close[1]` on bar 0) and
where a result is not a real number. The rules every builtin follows:

- **Windows** (`sma`, `stdev`, `highest`, `sum`, `wma`, ... and `x[n]`): missing when any bar they
  read is missing.
- **Recursions and running totals** (`ema`, `rsi`, `atr`, `adx`, `kama`, `sar`, `supertrend`,
  `obv`, `ad`, `cum`, ...): they skip missing bars — computed over the bars that have every input,
  as if the others were absent — and are missing on the skipped bars. So `ema(rsi(close, 14), 9)`
  has its first value on the rsi's 9th (the mean of the first 9 rsi values), as TA-Lib's EMA of
  its RSI output.
- **Several outputs** (`macd`, `stoch`, `bbands`, ...): the fields are missing together, from the
  bar where TA-Lib reports all of them.
- **Divisions by zero** are missing, except where TA-Lib defines the value (a flat stochastic
  window is 0, `roc` over a zero price is 0, ...): each such case is in the entry's doc.
- **Conditions**: `barssince`, `valuewhen` and `latch` count a missing condition as not true.
"""

MTF = """\
## Multi-timeframe: `expr @ timeframe`

`rsi(close, 14) @ 4h` computes `rsi(close, 14)` on 4-hour bars built from the data and shows, on
every bar of the data, the value of the last 4-hour bar that has **closed**. Any number or
condition can be evaluated on a higher timeframe; `@` binds like a field (`macd(close).hist @ 1d`,
`(close > sma(close, 50)) @ 1d`). Timeframes are a count and a unit: `m` minutes, `h` hours, `d`
days, `w` weeks, `M` calendar months.

- **Buckets** are aligned to the UTC epoch: `Nm`, `Nh`, `Nd` buckets start at multiples of their
  length since 1970-01-01 00:00 UTC (4h: 00:00, 04:00, 08:00, ...; 1d: 00:00 UTC); `Nw` at
  multiples of N weeks from Monday 1970-01-05 (1w starts Monday 00:00 UTC); `NM` at multiples of N
  months from January 1970 (3M: January, April, July, October). `7d` is not `1w`: its buckets are
  aligned to the epoch, a Thursday.
- **Higher bars**: a bar of the data belongs to the bucket containing its timestamp (its open
  time). The higher bar's open is the first open, high the highest high, low the lowest low,
  close the last close, volume the sum; its `time` is the bucket's start. A bucket without bars
  has no higher bar (the previous one stays visible). If the data starts inside a bucket, that
  first, incomplete higher bar is dropped.
- **No repainting**: a bar of the data at time t covers [t, t + interval), where the interval is
  the data's (the smallest step between consecutive timestamps). The higher bar [T, T + H) is
  complete once the data's bar ending at or after T + H has closed, so its value is used from that
  bar on: with regular 1h bars, the 00:00–04:00 bar's value is shown on the 03:00 bar (which
  closes at 04:00) through the 06:00 bar, and the 04:00–08:00 bar's from the 07:00 bar; if the
  03:00 bar is missing, the 00:00–04:00 value first shows on the 04:00 bar. The higher bar still
  forming at the end of the data is never used, so appending bars never changes an earlier bar's
  value: no repainting (tests/lang/test_mtf.py checks this property, with the interval fixed as a
  live feed knows it, and hand-computed alignments with gaps and partial first and last buckets).
  A shorter step somewhere in irregular data makes the interval smaller, which only delays
  values, never shows them early.
- **Checks**: the timeframe must be a whole multiple of the data's interval (`@ 4h` on 1h data;
  `@ 30m` or `@ 90m` on 1h data stop the run with an error naming the expression). Inside
  `(...) @ 1d`, a nested `@` must be a multiple of 1d. With a single bar the interval is unknown
  and every `@` value is missing.
"""

# The rows of the operators table, in reading order: each from its spec in lang/operators.py,
# and `@`, which is not an operator (ir.Resample), where it reads best.
_OPERATOR_ROWS = ("crosses_above", "crosses_below", "held_for", "held_within", "history", "@", "if")
_TIMEFRAME_ROW = ("x @ 4h", "x on a higher timeframe, once its bar has closed", "rsi(close, 14) @ 4h > 50")


def _operators() -> str:
    rows = ["## Operators and streaks", "", "| form | meaning | example |", "|---|---|---|"]
    for name in _OPERATOR_ROWS:
        spec = OPERATORS.get(name)
        form, meaning, example = (_TIMEFRAME_ROW if spec is None
                                  else (spec.write(*spec.shown), spec.meaning, spec.example))
        rows.append(f"| `{form}` | {meaning} | `{example}` |")
    return "\n".join(rows) + "\n"


def _parameter(p) -> str:
    text = f"{p.name}: {p.kind.value}"
    if p.required:
        return text
    default = p.default.series if isinstance(p.default, PriceDefault) else p.default
    if isinstance(default, str):
        return f'{text} = "{default}"'
    return f"{text} = {default:g}" if isinstance(default, float) else f"{text} = {default}"


def signature(builtin: Builtin) -> str:
    if builtin.is_series:
        return builtin.name
    returns = ("several series: " + ", ".join(f".{f}" for f in builtin.fields) if builtin.fields
               else f"{builtin.returns.kind.value} series")
    return f"{builtin.name}({', '.join(_parameter(p) for p in builtin.params)}) -> {returns}"


def _entry(builtin: Builtin) -> list[str]:
    lines = [f"### `{builtin.name}`", "", f"`{signature(builtin)}`", "", builtin.doc, ""]
    lines.append(f"- example: `{builtin.example}`")
    if builtin.source:
        lines.append(f"- warm-up: {_warmup(builtin)}")
        lines.append(f"- matches: {builtin.source}")
    if builtin.see_also:
        lines.append("- see also: " + ", ".join(f"`{name}`" for name in builtin.see_also))
    return [*lines, ""]


def _warmup(builtin: Builtin) -> str:
    """The formula, and the number lang/lookback.py computes from it at the defaults (where every
    parameter it names has one): the bars live trading loads before its first signal."""
    text = builtin.warmup
    if text.startswith("until"):
        return text
    formula = f"{text} bar" if text == "1" else f"{text} bars"
    defaults = {p.name: p.default for p in builtin.params if not p.required and isinstance(p.default, (int, float))}
    named = set(re.findall(r"[A-Za-z_]\w*", text)) - {"max", "min", "floor", "ceil", "sqrt"}
    if not named or not named <= set(defaults):  # a plain number, or a parameter without a default
        return formula
    return f"{formula} ({warmup_bars(builtin, defaults)} with the defaults)"


def _price_table(builtins: list[Builtin]) -> list[str]:
    rows = ["| series | meaning |", "|---|---|"]
    rows += [f"| `{b.name}` | {b.doc} |" for b in builtins]
    return [*rows, ""]


def render() -> str:
    """The whole document."""
    by_category: dict[str, list[Builtin]] = {}
    for builtin in REGISTRY.values():
        by_category.setdefault(builtin.category, []).append(builtin)
    known = [c for c, _, _ in CATEGORIES]
    unknown = sorted(set(by_category) - set(known))
    if unknown:
        raise ValueError(f"builtins in categories docgen does not list: {unknown}")
    out = [INTRO]
    out.append("## Contents\n")
    for key, title, _ in CATEGORIES:
        names = ", ".join(f"`{b.name}`" for b in sorted(by_category.get(key, []), key=lambda b: b.name))
        out.append(f"- **{title}**: {names}")
    out.append("\nand [Missing values](#missing-values), [Multi-timeframe](#multi-timeframe-expr--timeframe), "
               "[Operators and streaks](#operators-and-streaks).\n")
    out += [MISSING, MTF, _operators()]
    for key, title, blurb in CATEGORIES:
        members = sorted(by_category.get(key, []), key=lambda b: b.name)
        out.append(f"## {title}\n\n{blurb}\n")
        if key == "price":
            out.append("\n".join(_price_table(members)))
            continue
        for builtin in members:
            out.append("\n".join(_entry(builtin)))
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradebot.lang.tooling.docgen", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help=f"rewrite {DOC_PATH}")
    group.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {DOC_PATH}", file=sys.stderr)
        return 0
    if args.check:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is out of date: run python -m tradebot.lang.tooling.docgen --write", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
