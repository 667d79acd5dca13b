"""Paper trading equals the backtest: random scripts on random bars, fed one by one through the
session (the live path), with restarts from the journal at random points (some tearing the last
record, as a kill mid-write does), duplicate confirms and a dropped stream whose hole is refilled,
give the trades and equity of `tradebot run` on the same bars, bit for bit."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.lang.strategies import ohlcv
from tests.live.support import (HOUR_MS, assert_files_match, assert_same_as_backtest, bar_rows, compiled, new_session,
                                scripts, wave)
from tradebot.lang.lookback import lookback
from tradebot.live.journal import JOURNAL_NAME
from tradebot.live.session import SessionError, backtest_of_session
from tradebot.pipeline import backtest, engine_nodes


def _tear(folder: Path, nbytes: int) -> None:
    """A kill while the last record was being written: its tail never reached the disk."""
    path = folder / JOURNAL_NAME
    data = path.read_bytes()
    path.write_bytes(data[:-min(nbytes, len(data) - data.rfind(b"\n", 0, len(data) - 1) - 1)])


@st.composite
def disturbances(draw, n: int) -> dict[str, object]:
    points = st.integers(0, max(0, n - 1))
    return {"restarts": set(draw(st.lists(points, max_size=4))),
            "tears": draw(st.lists(st.integers(1, 40), max_size=4)),
            "duplicates": set(draw(st.lists(points, max_size=4))),
            "drop": draw(st.none() | st.tuples(points, st.integers(1, 3)))}


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data(), scripts(), ohlcv(min_bars=12, max_bars=45), st.booleans())
def test_live_path_equals_backtest(data, text, bars, warm) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        strategy = compiled(text, Path(tmp) / "s.tbs")
        warmup = min(lookback(engine_nodes(strategy.checked).values()).bars(HOUR_MS), 8) if warm else 0
        all_rows = bar_rows(bars)
        live = all_rows[warmup:]
        plan = data.draw(disturbances(len(live)))
        horizon = data.draw(st.none() | st.integers(1, 4))  # a tiny window: bars forgotten too
        folder = Path(tmp) / "session"
        session = new_session(strategy, folder, horizon)
        session.start(bars.head(warmup))
        tears = list(plan["tears"])
        i = 0
        while i < len(live):
            if plan["drop"] and plan["drop"][0] == i:  # the stream loses bars: a hole is refused
                hole = plan["drop"][1]
                plan["drop"] = None
                if i + hole < len(live) and session.frame.size:  # (the first bar has no predecessor)
                    with pytest.raises(SessionError, match="missing"):
                        session.on_bar(live[i + hole])
                    continue  # the feed refills the hole over REST, in order
            session.on_bar(live[i])
            if i in plan["duplicates"]:
                assert session.on_bar(live[i]) is None  # a confirm delivered twice counts once
                if i:
                    assert session.on_bar(live[i - 1]) is None
            if i in plan["restarts"]:
                plan["restarts"].discard(i)
                if tears:  # killed mid-write: the last bar's record is torn and cut on resume
                    _tear(folder, tears.pop())
                session = new_session(strategy, folder, horizon)  # the old one is dropped, as by a kill
                session.resume()
                i = (session.frame.size - warmup) - 1  # the feed resumes after the last journaled bar
            i += 1
        result = session.result()
        session.close()
        expected = backtest(strategy, bars) if warmup == 0 else \
            backtest_of_session(strategy, bars, warmup, interval_ms=HOUR_MS)
        assert_same_as_backtest(result, expected, bars.height - 1)
        assert_files_match(folder, expected, bars.height - 1)  # appended across the restarts


def test_resume_after_many_trades(tmp_path: Path) -> None:
    """A session whose snapshot counts more trades than the engine's first buffer (16) resumes."""
    strategy = compiled("enter long when close > close[1]\nexit long when close < close[1]\n", tmp_path / "s.tbs")
    n = 200
    bars = wave(n)
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(0))
    for row in bar_rows(bars)[:190]:
        session.on_bar(row)
    assert session.outputs.trades.height > 20
    session = new_session(strategy, tmp_path / "session")
    session.resume()
    for row in bar_rows(bars)[190:]:
        session.on_bar(row)
    assert_same_as_backtest(session.result(), backtest(strategy, bars), n - 1)


@pytest.mark.parametrize("kept", ["header, torn", "header", "header, bars", "header, bars, torn"])
def test_killed_during_the_warm_up_starts_again(tmp_path: Path, kept: str) -> None:
    """A kill while the warm-up was journaled (nothing live yet): the same command starts the
    session again rather than refusing it."""
    strategy = compiled("enter long when close > close[1]\nexit long when close < close[1]\nstop_loss 1%\n",
                        tmp_path / "s.tbs")
    bars = wave(40, amplitude=3, period=3)
    folder = tmp_path / "session"
    session = new_session(strategy, folder)
    session.start(bars.head(5))
    journal = folder / JOURNAL_NAME
    header, rows, _warm = journal.read_bytes().splitlines(keepends=True)
    cut = {"header, torn": header[:-5], "header": header, "header, bars": header + rows,
           "header, bars, torn": header + rows[:len(rows) // 2]}[kept]
    journal.write_bytes(cut)
    session = new_session(strategy, folder)
    assert not session.exists()
    session.start(bars.head(5))
    for row in bar_rows(bars)[5:]:
        session.on_bar(row)
    assert_same_as_backtest(session.result(), backtest_of_session(strategy, bars, 5, interval_ms=HOUR_MS),
                            bars.height - 1)
    assert session.outputs.trades.height > 3


def test_the_journal_grows_by_the_bar_not_by_the_trades_so_far(tmp_path: Path) -> None:
    """A snapshot counts the closed trades (each is journaled once, with its bar): the record of
    bar 550 is no longer than the record of bar 50, however many trades closed between."""
    import json

    strategy = compiled("enter long when close > close[1]\nexit long when close < close[1]\n", tmp_path / "s.tbs")
    n = 600
    bars = wave(n)
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(0))
    for row in bar_rows(bars)[:580]:
        session.on_bar(row)
    lines = (tmp_path / "session" / JOURNAL_NAME).read_text().splitlines()
    snapshots = {json.loads(line)["bar"]: len(line) for line in lines if '"snapshot"' in line and '"step"' in line}
    assert session.outputs.trades.height > 80
    assert snapshots[549] < snapshots[49] + 200  # (a few digits more: bar numbers, a larger count)
    session = new_session(strategy, tmp_path / "session")  # resumed from a lean snapshot
    session.resume()
    for row in bar_rows(bars)[580:]:
        session.on_bar(row)
    assert_same_as_backtest(session.result(), backtest(strategy, bars), n - 1)
