"""Coming from Pine Script: a Pine name gets its translation (lang/library/pine_names.py), never a
spelling guess that points the wrong way (`crossover` → `cross` fires in either direction,
`crossunder` → `round`)."""
from __future__ import annotations

import pytest

from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.pipeline import compile_source


def diagnostics(source: str) -> list[tuple[str, str | None]]:
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source(source, "pine.tbs")
    return [(d.message, d.hint) for d in caught.value.diagnostics]


def only(source: str) -> tuple[str, str]:
    (message, hint), = diagnostics(source)
    return message, hint or ""


def test_crossover_and_crossunder_name_the_direction_with_the_arguments() -> None:
    message, hint = only("enter long when crossover(close, sma(close, 20))\n")
    assert message == "unknown function `crossover`"
    assert hint == "write `close crosses above sma(close, 20)`"
    message, hint = only("exit long when crossunder(close, sma(close, 20))\n")
    assert hint == "write `close crosses below sma(close, 20)`" and "round" not in hint


@pytest.mark.parametrize("source, message, hint", [
    ("x = ta.rsi(close, 14)\nenter long when x < 30\n", "unknown function `ta.rsi`",
     "write `rsi`: builtins have no `ta.` prefix"),
    ("x = ta.tr\nenter long when x > 1\n", "unknown name `ta.tr`", "write `tr`"),
    ("x = math.max(open, close)\nenter long when x > 1\n", "unknown function `math.max`", "write `max`"),
    ("x = ta.crossover(close, open)\nenter long when x\n", "unknown function `ta.crossover`", "crosses above"),
    ("enter long when close > open\nexit long when close < strategy.position_avg_price * 0.98\n",
     "unknown name `strategy.position_avg_price`", "write `entry_price`"),
    ("x = bars_since_entry()\nenter long when x > 3\n", "`bars_since_entry` is a series, not a function",
     "without parentheses"),
    ("x = security(close, \"D\")\nenter long when close > x\n", "unknown function `security`", "@ 4h"),
    ("x = request.security(close, \"D\")\nenter long when close > x\n",
     "unknown function `request.security`", "@ 4h"),
    ("enter long when close > open\nplot(close)\n", "unknown setting `plot`", "--series"),
    ("x = input.int(14)\nenter long when x > 1\n", "unknown function `input.int`", "param"),
])
def test_pine_names_get_their_translation(source: str, message: str, hint: str) -> None:
    found = diagnostics(source)
    assert any(m == message and hint in (h or "") for m, h in found), found


def test_other_unknown_names_still_get_a_spelling_guess() -> None:
    message, hint = only("x = rsii(close, 14)\nenter long when x < 30\n")
    assert hint.startswith("did you mean `rsi`")


def test_a_pine_script_reports_every_mistake_at_once() -> None:
    """The script a Pine user wrote first (docs/FIRST-HOUR's naive_pine2.tbs): now half of it works
    and each remaining line says what to write."""
    source = (
        'strategy "pine-isms 2"\n'
        "h = hour(time)\n"
        "dow = dayofweek\n"
        "bars_in_trade = bars_since_entry()\n"
        "enter long when crossover(close, sma(close, 20)) and h >= 7\n"
        "exit long when crossunder(close, sma(close, 20))\n"
    )
    found = diagnostics(source)
    assert found[0][1] == "`hour` reads the bar's time itself: `hour(\"Europe/London\") >= 8`"
    assert [m for m, _ in found] == ["argument `tz` of `hour` must be a string",
                                     "`bars_since_entry` is a series, not a function",
                                     "unknown function `crossover`", "unknown function `crossunder`"]
