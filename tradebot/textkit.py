"""Plain-text presentation shared by every command: aligned tables and durations.

A leaf: it imports nothing from tradebot, so the runtime, data, optimizer and REPL all use it.
"""
from __future__ import annotations

from collections.abc import Sequence


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, right_from: int = 0,
               rule: bool = True) -> str:
    """Columns padded to their widest cell, two spaces apart, trailing spaces trimmed; columns
    from `right_from` on are right-aligned (numbers), the ones before it left-aligned (names).
    With `rule`, a line of dashes under the header."""
    widths = [max(len(line[i]) for line in [header, *rows]) for i in range(len(header))]

    def render(line: Sequence[str]) -> str:
        cells = [cell.rjust(width) if i >= right_from else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(line, widths))]
        return "  ".join(cells).rstrip()

    lines = [render(header)]
    if rule:
        lines.append("  ".join("-" * width for width in widths))
    return "\n".join([*lines, *(render(row) for row in rows)])


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`, `3d04h`: short and unambiguous."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
