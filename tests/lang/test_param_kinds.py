"""Boolean and choice-of-strings params: usable in `if` and comparisons, overridden by `--set`,
searched by the optimizer (as positions in their choices), and every mistake reported."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tradebot.cli import main
from tradebot.errors import UsageError
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.optimize.space import Space
from tradebot.cli.flags import parse_overrides
from tradebot.pipeline import compile_source, load_bars

SCRIPT = """\
param use_filter = true
param mode = "breakout" in ["breakout", "pullback"]
param n = 10 in 5..20 step 5
level = if mode == "breakout" then highest(high, n)[1] else lowest(low, n)[1]
trend = if use_filter then close > sma(close, 50) else true
enter long when trend and (if mode != "pullback" then close > level else close < level)
exit long when close < sma(close, 20)
"""


@pytest.fixture(scope="module")
def bars(eurusd_path):
    return load_bars(eurusd_path).head(400)


def entries(bars, **overrides) -> np.ndarray:
    strategy = compile_source(SCRIPT, "kinds.tbs", overrides=overrides)
    return strategy.plan.evaluate(bars)["enter_long"].to_numpy()


def test_defaults_and_overrides_change_the_signals(bars) -> None:
    close, high, low = (bars[c].to_numpy() for c in ("close", "high", "low"))
    import talib

    sma50 = talib.SMA(close, 50)
    breakout = close > np.concatenate([[np.nan], talib.MAX(high, 10)[:-1]])
    pullback = close < np.concatenate([[np.nan], talib.MIN(low, 10)[:-1]])
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(entries(bars), breakout & (close > sma50))
        np.testing.assert_array_equal(entries(bars, use_filter=False), breakout)
        np.testing.assert_array_equal(entries(bars, mode="pullback", use_filter=False), pullback)


def test_param_values_are_what_the_script_says() -> None:
    checked = compile_source(SCRIPT, "kinds.tbs", overrides={"mode": "pullback"}).checked
    assert checked.param_values == {"use_filter": True, "mode": "pullback", "n": 10}
    info = {p.name: p for p in checked.params}
    assert info["use_filter"].domain_text() == "[false, true]"
    assert info["mode"].domain_text() == '["breakout", "pullback"]'
    assert (info["mode"].value_text(), info["use_filter"].value_text(), info["n"].value_text()) == (
        '"pullback"', "true", "10")  # as the REPL's completion menu shows them


def test_set_flags_parse_words() -> None:
    assert parse_overrides(["use_filter=false", "mode=pullback", "n=15", "sl=2%"]) == {
        "use_filter": False, "mode": "pullback", "n": 15.0, "sl": 0.02}


@pytest.mark.parametrize("overrides, message", [
    ({"use_filter": "maybe"}, "--set use_filter=maybe: `use_filter` takes one of [false, true]"),
    ({"mode": "trend"}, '--set mode=trend: `mode` takes one of ["breakout", "pullback"]'),
    ({"mode": True}, "--set mode=true"),
    ({"n": "abc"}, "`abc` is not a number; `n` takes a whole number in 5..20 step 5"),
])
def test_wrong_overrides_are_refused(overrides, message) -> None:
    with pytest.raises(UsageError) as caught:
        compile_source(SCRIPT, "kinds.tbs", overrides=overrides)
    assert message in str(caught.value)


def test_cli_set_and_json(tmp_path, eurusd_path, capsys) -> None:
    script = tmp_path / "kinds.tbs"
    script.write_text(SCRIPT, encoding="utf-8")
    code = main(["run", str(script), "--data", str(eurusd_path), "--set", "use_filter=false",
                 "--set", "mode=pullback", "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["params"] == {"use_filter": False, "mode": "pullback", "n": 10}


def test_the_optimizer_searches_every_choice() -> None:
    checked = compile_source(SCRIPT, "kinds.tbs").checked
    space = Space(checked)
    assert {d.name: d.values for d in space.dims} == {"use_filter": (0.0, 1.0), "mode": (0.0, 1.0),
                                                     "n": (5.0, 10.0, 15.0, 20.0)}
    seen = set()
    for row in space.grid().rows():  # each combination checks as the optimizer checks it
        values = compile_source(SCRIPT, "kinds.tbs", overrides=row).checked.param_values
        seen.add((values["use_filter"], values["mode"]))
    assert seen == {(False, "breakout"), (False, "pullback"), (True, "breakout"), (True, "pullback")}


def messages(source: str) -> list[str]:
    with pytest.raises(ScriptDiagnostics) as caught:
        compile_source(source, "bad.tbs")
    return [f"{d.message} | {d.hint}" for d in caught.value.diagnostics]


@pytest.mark.parametrize("source, expected", [
    ('param mode = "a"\nenter long when close > open\n', "a string param lists its choices"),
    ('param mode = "c" in ["a", "b"]\nenter long when close > open\n', 'the default "c" of `mode` is not one of'),
    ("param f = true in [1, 2]\nenter long when f\n", "must be true or false"),
    ('param m = "a" in ["a", 2]\nenter long when close > open\n', "must be strings"),
    ("param f = true in 0..1\nenter long when f\n", "must be true or false"),
    ('param m = "a" in ["a", "b"]\nx = m + 1\nenter long when x > 1\n', "needs a number, got a string constant"),
    ("param f = false\nx = f * 2\nenter long when x > 1\n", "needs a number, got a bool constant"),
])
def test_mistakes_are_reported(source: str, expected: str) -> None:
    assert any(expected in m for m in messages(source)), messages(source)
