"""Tables, charts and help pages, on hand-made inputs whose right output is known."""
from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from tradebot.lang.builtins import REGISTRY
from tradebot.repl import display


@pytest.mark.parametrize("value, text", [
    (None, "missing"), (float("nan"), "missing"), (True, "true"), (False, "false"), (3.0, "3"),
    (1.072195, "1.0722"), (45.23114, "45.2311"), (-0.000123456, "-0.000123456"), (12_345_678.5, "12345678.50"),
])
def test_format_value(value, text):
    assert display.format_value(value) == text


def _frame(values: list) -> pl.DataFrame:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    stamps = [start.replace(hour=h) for h in range(len(values))]
    return pl.DataFrame({"timestamp": stamps, "v": values})


def test_table_aligns_and_keeps_the_last_rows():
    text = display.format_table(_frame([1.0, None, 22.5, 3.25]), rows=3)
    assert text.splitlines() == [
        "time (UTC)              v",
        "2024-01-01 01:00  missing",
        "2024-01-01 02:00     22.5",
        "2024-01-01 03:00     3.25",
    ]


def test_chart_spans_the_range_from_bottom_to_top():
    rows = display.chart([0.0, 5.0, 10.0, None], height=4)
    assert len(rows) == 4
    assert rows[0].startswith("10 ┤") and rows[-1].startswith(" 0 ┤")
    cells = [row.split("┤")[1].ljust(4) for row in rows]
    column = lambda i: "".join(cells[r][i] for r in range(4))  # noqa: E731 - top to bottom
    assert column(2) == "████"  # the maximum fills the whole height
    assert column(0) == "   ▁"  # the minimum still shows
    assert column(3) == "    "  # a missing value is a gap
    assert column(1).endswith("██") and column(1)[0] == " "


def test_chart_of_a_flat_or_missing_series():
    flat = [row.split("┤")[1] for row in display.chart([2.0, 2.0, 2.0], height=2)]
    assert flat == ["", "███"]  # a flat line sits at half height
    assert "missing" in display.chart([None, None])[0]


def test_plot_of_booleans_is_zero_and_one():
    text = display.plot_text(_frame([True, False, True]), label="v", width=10, height=2)
    assert text.splitlines()[1].startswith("1 ┤") and text.splitlines()[2].startswith("0 ┤")


def test_builtin_help_lists_every_parameter_and_the_index_every_builtin():
    page = display.builtin_help(REGISTRY["atr"])
    for param in REGISTRY["atr"].params:
        assert param.name in page
    index = display.builtin_index()
    assert all(name in index for name in REGISTRY)
