"""`tradebot eval SCRIPT`: a named multi-output call exports each of its fields (checked against
TA-Lib), and `--series` naming a function says so and lists what can be exported."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import talib

from tradebot.cli import main
from tradebot.data.loader import load_ohlcv

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "EURUSD_1h.csv"
SCRIPT = """bb = bbands(close, 20, 2)
m = macd(close, 12, 26, 9)
r = rsi(close, 14)
def band(src, n, k) = sma(src, n) + k * stdev(src, n)
enter long when close < bb.lower and r < 30
exit long when close > bb.middle
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["eval", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def script(tmp_path: Path) -> str:
    path = tmp_path / "multi.tbs"
    path.write_text(SCRIPT)
    return str(path)


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    return load_ohlcv(DATA)["close"].to_numpy()


def test_every_field_of_a_named_multi_output_call_is_a_column(script: str, close: np.ndarray, capsys) -> None:
    code, out, _ = run(capsys, script, "--data", str(DATA))
    assert code == 0
    frame = pl.read_csv(io.StringIO(out))
    assert frame.columns == ["timestamp", "bb.upper", "bb.middle", "bb.lower", "m.macd", "m.signal",
                             "m.hist", "r"]
    upper, middle, lower = talib.BBANDS(close, 20, 2, 2)
    macd, signal, hist = talib.MACD(close, 12, 26, 9)
    for column, oracle in [("bb.upper", upper), ("bb.middle", middle), ("bb.lower", lower),
                           ("m.macd", macd), ("m.signal", signal), ("m.hist", hist),
                           ("r", talib.RSI(close, 14))]:
        ours = frame[column].to_numpy().astype(float)
        tail = ~np.isnan(oracle)
        np.testing.assert_allclose(ours[-1000:], oracle[-1000:], rtol=1e-7, atol=1e-9, err_msg=column)
        assert tail[-1000:].all()


@pytest.mark.parametrize("series, columns", [
    ("bb", ["bb.upper", "bb.middle", "bb.lower"]),
    ("m.signal,r", ["m.signal", "r"]),
])
def test_series_picks_a_whole_call_or_one_field(script: str, series: str, columns: list[str], capsys) -> None:
    code, out, _ = run(capsys, script, "--series", series, "--tail", "3", "--data", str(DATA))
    assert code == 0
    frame = pl.read_csv(io.StringIO(out))
    assert frame.columns == ["timestamp", *columns] and frame.height == 3


def test_a_function_is_not_a_series_and_the_error_lists_the_exportable_ones(script: str, capsys) -> None:
    code, out, err = run(capsys, script, "--series", "band")
    assert code == 2 and out == ""
    assert "`band` is a function (`def band(src, n, k)`)" in err
    assert "exportable: bb.upper, bb.middle, bb.lower, m.macd, m.signal, m.hist, r" in err


def test_the_readme_eval_example_agrees_with_the_command(capsys) -> None:
    # The README's script example must run on the bundled rsi example (it used to name its `def`).
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "--series r,band" not in readme
    code, out, _ = run(capsys, str(ROOT / "examples/rsi.tbs"), "--series", "r", "--tail", "2")
    assert code == 0 and pl.read_csv(io.StringIO(out)).columns == ["timestamp", "r"]
