"""Text the REPL prints: value tables, terminal charts, and help pages drawn from the registries.

Pure functions of their inputs (no terminal, no session), so each is tested on its own.
"""
from __future__ import annotations

import math
import textwrap
from typing import Iterable, Sequence

import polars as pl

from ..lang.builtin_spec import Builtin
from ..lang.builtins import REGISTRY
from ..lang.settings import SETTINGS, SettingSpec
from ..textkit import text_table

TIME_FORMAT = "%Y-%m-%d %H:%M"
MISSING = "missing"
BLOCKS = " ▁▂▃▄▅▆▇█"  # eighths of a character cell, empty to full
MAX_LABEL = 40


def format_value(value: object) -> str:
    """One value the way a trader reads it: 6 significant digits, booleans as true/false."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return str(int(number))
        return f"{number:.6g}" if abs(number) < 1e6 else f"{number:.2f}"
    return str(value)


def _label(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def format_table(frame: pl.DataFrame, *, rows: int) -> str:
    """The last `rows` rows of a `timestamp` + value columns frame, as an aligned text table."""
    tail = frame.tail(rows)
    times = tail["timestamp"].dt.strftime(TIME_FORMAT).to_list() if tail.height else []
    columns = [["time (UTC)", *times]]
    for name in tail.columns:
        if name != "timestamp":
            columns.append([_label(name), *(format_value(v) for v in tail[name].to_list())])
    header, *rows = zip(*columns)
    return text_table(header, rows, right_from=1, rule=False)


def _numbers(values: Iterable[object]) -> list[float | None]:
    out: list[float | None] = []
    for value in values:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        else:
            out.append(float(value))  # booleans plot as 0 and 1
    return out


def chart(values: Sequence[object], *, height: int = 8) -> list[str]:
    """An area chart `height` rows tall, one column per value, with the range on the left axis."""
    numbers = _numbers(values)
    present = [v for v in numbers if v is not None]
    if not present:
        return ["(no values to plot: every value is missing)"]
    low, high = min(present), max(present)
    eighths = height * 8
    # The lowest value still shows one eighth, so a column is blank only where the value is missing.
    levels = [None if v is None else (1 + (v - low) / (high - low) * (eighths - 1) if high > low else eighths / 2)
              for v in numbers]
    top_label, bottom_label = format_value(high), format_value(low)
    width = max(len(top_label), len(bottom_label))
    rows = []
    for row in range(height):
        floor = (height - 1 - row) * 8
        cells = "".join(" " if level is None else BLOCKS[max(0, min(8, round(level - floor)))] for level in levels)
        label = top_label if row == 0 else bottom_label if row == height - 1 else ""
        rows.append(f"{label.rjust(width)} ┤{cells}".rstrip())
    return rows


def plot_text(frame: pl.DataFrame, *, label: str, width: int, height: int = 8) -> str:
    """`:plot`: a chart of each value column over the last `width` bars, with the time range."""
    tail = frame.tail(max(1, width))
    if tail.height == 0:
        return "no bars to plot"
    first, last = (tail["timestamp"][i].strftime(TIME_FORMAT) for i in (0, -1))
    parts = []
    for name in tail.columns:
        if name == "timestamp":
            continue
        title = _label(label if name == label else f"{label}.{name}")
        parts.append("\n".join([f"{title}   last {tail.height} bars, {first} → {last} UTC",
                                *chart(tail[name].to_list(), height=height)]))
    return "\n\n".join(parts)


# ------------------------------------------------------------------ help pages


def builtin_help(builtin: Builtin) -> str:
    """A builtin's page: signature, doc, parameters, example, related builtins."""
    lines = [builtin.signature(), *textwrap.wrap(builtin.doc, 88, initial_indent="  ", subsequent_indent="  ")]
    if builtin.params:
        width = max(len(p.name) for p in builtin.params)
        for p in builtin.params:
            default = "" if p.required else f" (default {p.default!r})"
            lines.append(f"    {p.name.ljust(width)}  {p.doc or p.kind.value}{default}")
    if builtin.fields:
        lines.append("  fields: " + ", ".join(f".{f}" for f in builtin.fields))
    lines.append(f"  example: {builtin.example}")
    if builtin.see_also:
        lines.append("  see also: " + ", ".join(builtin.see_also))
    return "\n".join(lines)


def setting_help(spec: SettingSpec) -> str:
    default = "none" if spec.default is None else format_value(spec.default)
    return "\n".join([f"{spec.name} (setting, {spec.kind}, default {default})",
                      *textwrap.wrap(spec.doc, 88, initial_indent="  ", subsequent_indent="  "),
                      f"  example: {spec.example}"])


def builtin_index(*, width: int = 88) -> str:
    """Every builtin by category, and every setting: what `:help` lists after the commands."""
    by_category: dict[str, list[str]] = {}
    for name, builtin in sorted(REGISTRY.items()):
        by_category.setdefault(builtin.category, []).append(name)
    lines = ["Builtins (`:help NAME` for one):"]
    for category, names in sorted(by_category.items()):
        lines += textwrap.wrap(" ".join(names), width, initial_indent=f"  {category + ':':<12}",
                               subsequent_indent=" " * 14)
    lines.append("Settings: " + ", ".join(sorted(SETTINGS)))
    return "\n".join(lines)
