"""The one table renderer and duration format (tradebot/textkit.py), on hand-worked cases."""
from __future__ import annotations

from tradebot.textkit import format_duration, text_table


def test_a_table_pads_to_the_widest_cell_and_aligns_names_left_and_numbers_right() -> None:
    text = text_table(["Metric", "All"], [["Sharpe", "1.25"], ["Trades", "12"]], right_from=1)
    assert text.split("\n") == [
        "Metric   All",
        "------  ----",
        "Sharpe  1.25",
        "Trades    12",
    ]


def test_a_table_without_rule_or_left_columns_and_trailing_blanks_trimmed() -> None:
    assert text_table(["a", "bb"], [["ccc", ""]], rule=False) == "  a  bb\nccc"
    assert text_table(["name", "x"], [], right_from=1) == "name  x\n----  -"


def test_the_data_fetch_and_the_optimizer_read_durations_alike() -> None:
    assert [format_duration(s) for s in (59.6, 60, 3599, 3600, 47 * 3600 + 59 * 60, 48 * 3600)] == \
        ["1m00s", "1m00s", "59m59s", "1h00m", "47h59m", "2d00h"]
