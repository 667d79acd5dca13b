"""The parameter-stability figure: the objective over two params (the others held at the best
trial's values) as a heatmap, written as a small standalone SVG (no plotting dependency).

A robust optimum sits on a plateau of similar colours; a lone bright cell among dark ones is
likely luck. Cells without a result (pruned by `where`, too few trades, not tried) are grey.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

CELL = 28
MARGIN_LEFT, MARGIN_TOP, MARGIN_RIGHT, MARGIN_BOTTOM = 70, 40, 20, 60
MISSING = "#d0d0d0"


@dataclass(frozen=True)
class Heatmap:
    """Objective values on a grid: `values[row][column]` for row_values × column_values."""

    title: str
    row_name: str
    row_values: Sequence[float]
    column_name: str
    column_values: Sequence[float]
    values: Sequence[Sequence[float | None]]
    best: tuple[int, int] | None  # (row, column) of the best trial


def colour(value: float | None, low: float, high: float) -> str:
    """Blue (low) → white → red (high); grey for no value."""
    if value is None or not math.isfinite(value):
        return MISSING
    t = 0.5 if high <= low else (value - low) / (high - low)
    if t < 0.5:
        k = t / 0.5
        return _rgb(int(40 + 215 * k), int(90 + 165 * k), 255)
    k = (t - 0.5) / 0.5
    return _rgb(255, int(255 - 175 * k), int(255 - 215 * k))


def _rgb(r: int, g: int, b: int) -> str:
    return f"#{r:02x}{g:02x}{b:02x}"


def _label(value: float) -> str:
    return f"{value:g}"


def svg(heatmap: Heatmap) -> str:
    """The heatmap as an SVG document."""
    rows, cols = len(heatmap.row_values), len(heatmap.column_values)
    finite = [v for row in heatmap.values for v in row if v is not None and math.isfinite(v)]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    width = MARGIN_LEFT + cols * CELL + MARGIN_RIGHT
    height = MARGIN_TOP + rows * CELL + MARGIN_BOTTOM
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="11">',
             f'<text x="{MARGIN_LEFT}" y="20" font-size="13">{escape(heatmap.title)}</text>']
    for r, row in enumerate(heatmap.values):
        y = MARGIN_TOP + r * CELL
        parts.append(f'<text x="{MARGIN_LEFT - 6}" y="{y + CELL / 2 + 4}" text-anchor="end">'
                     f'{_label(heatmap.row_values[r])}</text>')
        for c, value in enumerate(row):
            x = MARGIN_LEFT + c * CELL
            tip = "no result" if value is None else f"{value:.4g}"
            parts.append(f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" '
                         f'fill="{colour(value, low, high)}"><title>{escape(tip)}</title></rect>')
    if heatmap.best is not None:
        r, c = heatmap.best
        parts.append(f'<rect x="{MARGIN_LEFT + c * CELL + 1}" y="{MARGIN_TOP + r * CELL + 1}" '
                     f'width="{CELL - 2}" height="{CELL - 2}" fill="none" stroke="black" stroke-width="2"/>')
    bottom = MARGIN_TOP + rows * CELL
    for c, value in enumerate(heatmap.column_values):
        x = MARGIN_LEFT + c * CELL + CELL / 2
        parts.append(f'<text x="{x}" y="{bottom + 14}" text-anchor="middle">{_label(value)}</text>')
    parts.append(f'<text x="{MARGIN_LEFT + cols * CELL / 2}" y="{bottom + 36}" text-anchor="middle">'
                 f'{escape(heatmap.column_name)}</text>')
    parts.append(f'<text x="14" y="{MARGIN_TOP + rows * CELL / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {MARGIN_TOP + rows * CELL / 2})">{escape(heatmap.row_name)}</text>')
    parts.append(f'<text x="{MARGIN_LEFT}" y="{height - 6}">low {low:.4g} (blue) … high {high:.4g} (red); '
                 'grey: no result; box: best</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
