"""Reading the REPL's printed tables back into values, for comparison with independent results."""
from __future__ import annotations

import math
import re

_GAP = re.compile(r"\s{2,}")


def parse_table(text: str) -> tuple[list[str], dict[str, list[float | bool | None]]]:
    """A `format_table` text → (times, {column: values}); `missing` is None."""
    lines = text.splitlines()
    header = _GAP.split(lines[0].strip())
    assert header[0] == "time (UTC)", text
    names = header[1:]
    times, columns = [], {name: [] for name in names}
    for line in lines[1:]:
        time, *cells = _GAP.split(line.strip())
        times.append(time)
        assert len(cells) == len(names), line
        for name, cell in zip(names, cells):
            columns[name].append(_cell(cell))
    return times, columns


def _cell(cell: str) -> float | bool | None:
    if cell == "missing":
        return None
    if cell in ("true", "false"):
        return cell == "true"
    return float(cell)


def close_enough(shown: float | None, truth: float) -> bool:
    """The table shows 6 significant digits."""
    if shown is None:
        return math.isnan(truth)
    return math.isclose(shown, truth, rel_tol=1e-5, abs_tol=1e-9)
