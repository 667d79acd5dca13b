"""A session's trades.csv and equity.csv are appended bar by bar and follow the journal: current
after every bar, and after a crash at any point (before the rows were written, in the middle of a
row) the resumed session's files are byte for byte those of a session that never stopped, and
the backtest's as `tradebot run --out` writes them; result.json is `write_outputs`' text."""
from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lang.strategies import ohlcv
from tests.live.support import (HOUR_MS, assert_files_match, assert_same_as_backtest, bar_rows, compiled,
                                new_session, scripts, wave)
from tradebot.live.outputs import equity_line, read_equity, read_result, read_trades
from tradebot.live.session import backtest_of_session
from tradebot.runtime.report import ISO_FORMAT, write_outputs

FILES = ("trades.csv", "equity.csv", "result.json")


@settings(max_examples=300, deadline=None)
@given(st.integers(-10**13, 10**14), st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=3, max_size=3))
def test_an_equity_row_is_what_polars_writes(start_ms: int, values: list[float]) -> None:
    _assert_row_like_polars(start_ms, values)


@pytest.mark.parametrize("value", [0.0, -0.0, 1e-4, 9.99e-5, 1e-5, 1e16, 9999999999999998.0, 5e-324, math.pi, -1e300])
def test_an_equity_row_at_the_edges_of_plain_decimals(value: float) -> None:
    _assert_row_like_polars(1_704_067_200_000, [value, -value, value / 3])


def _assert_row_like_polars(start_ms: int, values: list[float]) -> None:
    frame = pl.DataFrame({"timestamp": pl.Series([start_ms]).cast(pl.Datetime("ms", "UTC")),
                          "equity": [values[0]], "position": [values[1]], "drawdown": [values[2]]})
    expected = frame.write_csv(datetime_format=ISO_FORMAT, include_header=False)
    assert equity_line((start_ms, *values)).decode("utf-8") == expected


class Crash(Exception):
    """The process dies after the bar's journal record, before its rows reached the files."""


@st.composite
def crashes(draw, n: int) -> dict[int, str]:
    kinds = st.sampled_from(("before the rows", "torn equity row", "torn trade row", "stale temporary"))
    return draw(st.dictionaries(st.integers(0, max(0, n - 1)), kinds, max_size=4))


def _tear(path: Path, nbytes: int) -> None:
    data = path.read_bytes()
    header = data.index(b"\n") + 1
    path.write_bytes(data[:max(header, len(data) - nbytes)])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), scripts(), ohlcv(min_bars=12, max_bars=60), st.integers(1, 30))
def test_files_are_current_after_every_bar_and_put_right_after_a_crash(data, text, bars, tear) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        strategy = compiled(text, Path(tmp) / "s.tbs")
        warmup = 3
        live = bar_rows(bars)[warmup:]
        plan = data.draw(crashes(len(live)))
        folder, clean_folder = Path(tmp) / "session", Path(tmp) / "clean"
        session, clean = new_session(strategy, folder, 2), new_session(strategy, clean_folder, 2)
        session.start(bars.head(warmup))
        clean.start(bars.head(warmup))
        i = 0
        while i < len(live):
            crash = plan.pop(i, None)
            if crash == "before the rows":
                def die(*args: object) -> None:
                    raise Crash
                session.outputs.append = die  # type: ignore[method-assign]
                with pytest.raises(Crash):
                    session.on_bar(live[i])
            else:
                session.on_bar(live[i])
                clean.on_bar(live[i])
                lines = (folder / "equity.csv").read_bytes().count(b"\n")
                assert lines == session.frame.size + 1  # current after every bar, not every 60
                assert (folder / "trades.csv").read_bytes() == (clean_folder / "trades.csv").read_bytes()
            if crash is None:
                i += 1
                continue
            if crash == "torn equity row":
                _tear(folder / "equity.csv", tear)
            elif crash == "torn trade row":
                _tear(folder / "trades.csv", tear)
            elif crash == "stale temporary":  # killed while rewriting: the old file is still whole
                (folder / ".equity.csv.0123456789ab.tmp").write_text("timestamp,equity\n2024")
            session = new_session(strategy, folder, 2)
            session.resume()
            assert not list(folder.glob(".*.tmp"))
            i = session.frame.size - warmup  # the feed hands over the bars after the journal's last
            if crash == "before the rows":
                clean.on_bar(live[i - 1])
        for name in ("trades.csv", "equity.csv"):
            assert (folder / name).read_bytes() == (clean_folder / name).read_bytes(), name
        result = session.result()
        session.close()
        clean.close()
        assert (folder / "result.json").read_bytes() == (clean_folder / "result.json").read_bytes()
        expected = backtest_of_session(strategy, bars, warmup, interval_ms=HOUR_MS)
        assert_same_as_backtest(result, expected, bars.height - 1)
        assert_files_match(folder, expected, bars.height - 1)
        # result.json is the text `write_outputs` (tradebot run --out) writes for this result
        document = json.loads((folder / "result.json").read_text())
        write_outputs(result, Path(tmp) / "run", settings=document["settings"], params=document["params"])
        for name in FILES:
            assert (folder / name).read_text() == (Path(tmp) / "run" / name).read_text(), name


@pytest.mark.parametrize("pause", [0.0, 1e9])
def test_result_json_follows_the_trades_unless_rewritten_within_the_pause(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pause: float) -> None:
    """result.json is rewritten when a trade closes, but at most once per RESULT_PAUSE_S (its
    metrics read the whole equity curve); closing the session writes it current."""
    from tradebot.live import session as session_module

    monkeypatch.setattr(session_module, "RESULT_PAUSE_S", pause)
    strategy = compiled("enter long when close > close[1]\nexit long when close < close[1]\n", tmp_path / "s.tbs")
    bars = wave(80, amplitude=3, period=3)
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(2))
    written = lambda: len(json.loads((tmp_path / "session" / "result.json").read_text())["trades"])  # noqa: E731
    for row in bar_rows(bars)[2:]:
        session.on_bar(row)
        assert written() == (session.outputs.trades.height if pause == 0 else 0)
    assert session.outputs.trades.height >= 3
    session.close()
    assert written() == session.outputs.trades.height


def test_a_ruined_session_says_when_as_the_backtest_does(tmp_path: Path) -> None:
    # 5x leverage long from bar 3; bar 6 gaps down by half: the account is liquidated there, with
    # a shortfall past its equity. The session's result (and result.json) said "ruin": null.
    strategy = compiled("leverage 5\nsize 500% of equity\nenter long when close > 0\n", tmp_path / "s.tbs")
    closes = [100.0, 100.0, 100.0, 101.0, 102.0, 103.0, 50.0, 50.0, 51.0, 52.0]
    bars = wave(len(closes)).with_columns(open=pl.Series(closes), high=pl.Series(closes) + 0.5,
                                          low=pl.Series(closes) - 0.5, close=pl.Series(closes))
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(2))
    for row in bar_rows(bars)[2:]:
        session.on_bar(row)
    result = session.result()
    expected = backtest_of_session(strategy, bars, 2, interval_ms=HOUR_MS)
    assert expected.ruin is not None and expected.ruin.bar == 6 and expected.ruin.shortfall > 0
    assert result.ruin == expected.ruin
    session.close()
    assert json.loads((tmp_path / "session" / "result.json").read_text())["ruin"] is not None


def test_the_readers_give_back_what_the_session_wrote(tmp_path: Path) -> None:
    """The dashboard reads a session's files through live.outputs' readers, beside their writer:
    what a running session wrote comes back row for row, and a folder without them reads empty."""
    assert (read_result(tmp_path), read_equity(tmp_path), read_trades(tmp_path)) == (None, [], [])
    strategy = compiled("enter long when close > close[1]\nexit long when close < close[1]\n", tmp_path / "s.tbs")
    bars = wave(40, amplitude=3, period=3)
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(2))
    for row in bar_rows(bars)[2:]:
        session.on_bar(row)
    session.close()
    folder = tmp_path / "session"
    equity = pl.read_csv(folder / "equity.csv", infer_schema=False)
    assert read_equity(folder) == [(t, float(e)) for t, e in zip(equity["timestamp"], equity["equity"])]
    trades = pl.read_csv(folder / "trades.csv", infer_schema=False)
    assert trades.height >= 2 and read_trades(folder) == trades.to_dicts()
    assert read_result(folder) == json.loads((folder / "result.json").read_text(encoding="utf-8"))
