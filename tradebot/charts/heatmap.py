"""A value over a grid of two parameters, as the heatmap charts draw it (the sweep's parameter
heatmaps). Plain data: the optimizer fills it, the report page draws it with ECharts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence


@dataclass(frozen=True)
class Heatmap:
    """Values on a grid: `values[row][column]` for row_values × column_values; None where there
    is no result (pruned by `where`, too few trades, not tried)."""

    title: str
    row_name: str
    row_values: Sequence[float]
    column_name: str
    column_values: Sequence[float]
    values: Sequence[Sequence[float | None]]
    best: tuple[int, int] | None  # (row, column) of the best trial

    def to_json(self) -> dict:
        return {"title": self.title, "row_name": self.row_name, "row_values": list(self.row_values),
                "column_name": self.column_name, "column_values": list(self.column_values),
                "values": [list(row) for row in self.values], "best": list(self.best) if self.best else None}
