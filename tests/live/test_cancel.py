"""Cancelling a standing entry order (Broker.cancel): the order never fills, the cancel is
journaled before anything else happens, and it survives a restart at any point around it: the
cancel record torn by a kill (the request is taken again), a kill between journaling it and
deleting the request (taken once), and a real SIGKILL of a replayed session while the request
waits. `paper verify` replays the cancel and reports the session identical."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.live.support import assert_same_as_backtest, bar_rows, compiled, new_session
from tests.live.test_paper_cli import _replay_file
from tests.live.test_session import _tear
from tests.live.test_window import _walk
from tradebot.live.journal import JOURNAL_NAME, read_records
from tradebot.live.review import read_session, verify
from tradebot.live.session import CANCEL_GLOB, PaperSession, backtest_of_session, request_cancel

# One limit entry placed on bar 30, 1% under the close, for 40 bars; out on bar 90.
SCRIPT = """enter long when bar_index == 30
enter long at limit close * 0.99 expire 40 bars
exit long when bar_index == 90
"""


def _started(tmp_path: Path, upto: int) -> tuple[PaperSession, list, pl.DataFrame]:
    strategy = compiled(SCRIPT, tmp_path / "s.tbs")
    bars = _walk(120, seed=11)
    assert backtest_of_session(strategy, bars, 0, interval_ms=3_600_000).trades.height == 1  # it fills
    session = new_session(strategy, tmp_path / "session")
    session.start(bars.head(0))
    rows = bar_rows(bars)
    for row in rows[:upto]:
        session.on_bar(row)
    return session, rows, bars


def _finish(session: PaperSession, rows: list, bars: pl.DataFrame) -> None:
    for row in rows[session.frame.size:]:
        session.on_bar(row)
    result = session.result()
    session.close()
    assert result.trades.height == 0  # the cancelled order never filled
    assert (result.equity["equity"] == session.config.capital).all()
    same, message = verify(read_session(session.folder))
    assert same and "1 orders cancelled" in message, message


def _cancels(session: PaperSession) -> list[dict]:
    return [r for r in read_records(session.journal_path) if r["kind"] == "cancel"]


def test_a_cancelled_order_never_fills_after_a_restart(tmp_path: Path) -> None:
    session, rows, bars = _started(tmp_path, 32)
    assert [o.id for o in session.broker.orders()] == ["long-30"]
    assert not session.broker.cancel("long-29")  # another order: nothing happens
    assert session.cancel("long-30", "r1") and session.broker.orders() == []
    assert not session.cancel("long-30", "r1")  # a request is taken once
    session = new_session(session.strategy, session.folder)  # killed; the same command resumes
    session.resume()
    assert session.broker.orders() == []
    _finish(session, rows, bars)


@pytest.mark.parametrize("moment", ["record torn", "request not yet deleted"])
def test_a_kill_around_the_cancel(tmp_path: Path, moment: str) -> None:
    session, rows, bars = _started(tmp_path, 32)
    request = request_cancel(session.folder, "long-30")
    if moment == "record torn":  # killed while writing the record: the request is still there
        session.cancel("long-30", request.stem)
        _tear(session.folder, 5)
    else:  # killed after the record, before deleting the request
        session.cancel("long-30", request.stem)
    assert request.exists()
    session = new_session(session.strategy, session.folder)
    session.resume()
    assert session.take_cancel_requests() == ([("long-30", True)] if moment == "record torn" else [])
    assert not list(session.folder.glob(CANCEL_GLOB))
    assert [r["done"] for r in _cancels(session)] == [True]
    _finish(session, rows, bars)


def test_cancelling_an_order_that_no_longer_stands_changes_nothing(tmp_path: Path) -> None:
    session, rows, bars = _started(tmp_path, 75)  # the order filled by now
    assert session.broker.orders() == []
    assert not session.cancel("long-30", "late")
    (held,) = session.broker.positions()
    for row in rows[75:]:
        session.on_bar(row)
    assert session.broker.positions() == [] and session.broker.position() == 0
    backtest = backtest_of_session(session.strategy, bars, 0, interval_ms=3_600_000)
    assert_same_as_backtest(session.result(), backtest, 119)
    (trade,) = backtest.trades.iter_rows(named=True)
    assert (held.side, held.qty, held.entry_bar, held.entry_price) == \
        (trade["side"], trade["qty"], trade["entry_bar"], trade["entry_price"])


NEVER_FILLS = """enter long when bar_index == 150
enter long at limit close * 0.5
"""


def test_sigkill_around_a_cancel_of_a_replayed_session(tmp_path: Path) -> None:
    (tmp_path / "s.tbs").write_text(NEVER_FILLS, encoding="utf-8")
    data = _replay_file(tmp_path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "tradebot", "paper", "s.tbs", "--replay", str(data), "--out", "s"]
    process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal = tmp_path / "s" / JOURNAL_NAME
    deadline = time.monotonic() + 120
    while b'"id":"long-150"' not in (journal.read_bytes() if journal.exists() else b""):
        assert time.monotonic() < deadline and process.poll() in (None, 0)
        time.sleep(0.05)
    cancel = subprocess.run([sys.executable, "-m", "tradebot", "paper", "cancel", "s", "long-150"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert cancel.returncode == 0, cancel.stderr
    time.sleep(random.Random(7).uniform(0.0, 0.3))
    process.kill()
    process.wait(60)
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in journal.read_text().splitlines()]
    cancels = [r for r in records if r["kind"] == "cancel"]
    assert [(r["order"], r["done"]) for r in cancels] == [("long-150", True)]
    assert not list((tmp_path / "s").glob(CANCEL_GLOB))
    steps = [r for r in records if r["kind"] == "step"]
    assert len(steps) == len({r["bar"] for r in steps})  # no bar twice
    assert all(not r["closed"] and r["position"] == 0 for r in steps)
    assert all(not r["orders"] for r in steps if r["bar"] > cancels[0]["after"])
    check = subprocess.run([sys.executable, "-m", "tradebot", "paper", "verify", "s"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "1 orders cancelled" in check.stdout, check.stdout + check.stderr
    assert np.isfinite([r["equity"] for r in steps]).all()


def test_paper_cancel_names_the_orders_that_stand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tradebot.cli import main

    session, _, _ = _started(tmp_path, 32)
    session.close()
    assert main(["paper", "status", str(session.folder)]) == 0
    assert "order      long-30: limit long entry at" in capsys.readouterr().out
    assert main(["paper", "cancel", str(session.folder), "long-29"]) == 2
    err = capsys.readouterr().err
    assert "no order long-29 stands after the last bar (long-30)" in err and "Traceback" not in err
    assert main(["paper", "cancel", str(session.folder), "long-30"]) == 0
    (request,) = session.folder.glob(CANCEL_GLOB)
    assert request.read_text(encoding="utf-8") == "long-30"
