"""`tradebot paper` as a user runs it, against the local fake exchange: two scripts on two symbols
over one connection, resumed, each session verified against the backtest; a replayed session
killed (SIGKILL) at random moments and restarted; `verify` naming the first difference of a
doctored journal; bad input with a message and an exit code, never a traceback."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fake_bybit import WsFault
from tests.data.test_cli import FAST as DATA_FAST
from tests.live.support import assert_files_match
from tradebot.cli import main
from tradebot.live.journal import JOURNAL_NAME
from tradebot.live.review import read_session, verify
from tradebot.live.session import backtest_of_session
from tradebot.pipeline import load_strategy

REPO = Path(__file__).resolve().parents[2]
# The data tests' fast client settings, and one attempt fewer per request: "unreachable" sooner.
FAST = {**DATA_FAST, "TRADEBOT_BYBIT_MAX_ATTEMPTS": "2"}
SCRIPT = """capital 10_000
fee 0.05%
fast = ema(close, 3)
slow = sma(close, 8) @ 5m
enter long when fast crosses above slow
exit long when fast crosses below slow
enter short when close < lowest(low, 4)[1]
exit short when close > highest(high, 4)[1]
stop_loss 0.5%
"""


@pytest.fixture(autouse=True)
def fast_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


def _scripts(tmp_path: Path) -> list[str]:
    (tmp_path / "a.tbs").write_text(SCRIPT, encoding="utf-8")
    (tmp_path / "b.tbs").write_text(SCRIPT.replace("ema(close, 3)", "close"), encoding="utf-8")
    return ["a.tbs", "b.tbs"]


def test_live_sessions_share_one_connection_resume_and_verify(make_fake: Any, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBOT_BYBIT_DEAD_AFTER", "5")  # only the drop below reconnects, even under load
    fake = make_fake(speed=600.0)  # a 1-minute candle every 0.1 s
    fake.config.ws_faults.append(WsFault(drop_after=8))  # the stream drops once: a hole refilled
    argv = ["paper", *_scripts(tmp_path), "--symbol", "BTCUSDT", "ETHUSDT", "--interval", "1m",
            "--rest-url", fake.rest_url, "--ws-url", fake.ws_url, "--duration", "1.5"]
    assert main(argv) == 0, capsys.readouterr().err
    assert fake.stream.connections == 2  # four sessions, one connection (and its reconnect)
    assert main(argv) == 0  # the same command again resumes every session
    err = capsys.readouterr().err
    assert err.count("resumed after bar") == 4 and "Traceback" not in err
    folders = sorted(p.parent for p in (tmp_path / "sessions").glob(f"*/{JOURNAL_NAME}"))
    assert [f.name for f in folders] == ["a-BTCUSDT-1m", "a-ETHUSDT-1m", "b-BTCUSDT-1m", "b-ETHUSDT-1m"]
    for folder in folders:
        recorded = read_session(folder)
        starts = recorded.bars["timestamp"].dt.epoch("ms").diff().drop_nulls()
        assert (starts == 60_000).all()  # every bar once, in order, no hole
        assert len(recorded.steps) >= 15
        same, message = verify(recorded)
        assert same, message
        assert (folder / "trades.csv").exists() and json.loads((folder / "result.json").read_text())
    assert main(["paper", "status"]) == 0
    assert capsys.readouterr().out.count("position") == 4


def _replay_file(tmp_path: Path, n: int = 260) -> Path:
    """A continuous 1-minute file: a seeded random walk."""
    rng = random.Random(3)
    start, close, rows = 1_704_067_200_000, 100.0, []
    for i in range(n):
        o, close = close, close * (1 + rng.gauss(0, 0.004))
        rows.append((start + i * 60_000, o, max(o, close) * 1.001, min(o, close) * 0.999, close, 1.0 + i))
    path = tmp_path / "store" / "BTCUSDT" / "1m.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = pl.DataFrame(rows, schema=["timestamp", "open", "high", "low", "close", "volume"], orient="row")
    frame.with_columns(pl.col("timestamp").cast(pl.Datetime("ms", "UTC"))).write_csv(path)
    return path


def test_sigkill_at_random_moments_then_resume_equals_backtest(tmp_path: Path) -> None:
    script = _scripts(tmp_path)[0]
    data = _replay_file(tmp_path)
    argv = [sys.executable, "-m", "tradebot", "paper", script, "--replay", str(data), "--out", "s"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    rng = random.Random(14)
    kills = 0
    for _ in range(4):
        process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        time.sleep(rng.uniform(1.5, 4.0))
        if process.poll() is None:
            process.kill()  # SIGKILL on POSIX, TerminateProcess on Windows
            kills += 1
        process.wait(60)
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert kills >= 1
    recorded = read_session(tmp_path / "s")
    assert recorded.bars.height == 260 and recorded.bars["timestamp"].is_unique().all()
    same, message = verify(recorded)
    assert same, message
    # the files appended across the kills are the backtest's (tradebot run --out's format)
    expected = backtest_of_session(load_strategy(tmp_path / script), recorded.bars, recorded.live_from,
                                   interval_ms=60_000)
    assert_files_match(tmp_path / "s", expected, recorded.bars.height - 1)
    check = subprocess.run([sys.executable, "-m", "tradebot", "paper", "verify", "s"], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0 and "identical:" in check.stdout


def test_verify_names_the_first_difference_of_a_doctored_journal(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    script = _scripts(tmp_path)[0]
    assert main(["paper", script, "--replay", str(_replay_file(tmp_path)), "--out", "s"]) == 0
    assert main(["paper", "verify", "s"]) == 0
    assert "identical:" in capsys.readouterr().out
    journal = tmp_path / "s" / JOURNAL_NAME
    lines = journal.read_text().splitlines()
    doctored = next(i for i, line in enumerate(lines) if '"closed":[[' in line)
    record = json.loads(lines[doctored])
    record["closed"][0][1] += 1.0  # one fill moved (kernel.T_* column 1)
    lines[doctored] = json.dumps(record)
    journal.write_text("\n".join(lines) + "\n")
    assert main(["paper", "verify", "s"]) == 1
    out = capsys.readouterr().out
    assert "first difference at trade 1" in out and "session vs backtest" in out


@pytest.mark.parametrize(("extra", "code", "words"), [
    (["--symbol", "NOPEUSDT", "--interval", "1m"], 2, "does not list NOPEUSDT"),
    (["--symbol", "BTCUSDT", "--interval", "1hr"], 2, "did you mean '1h'"),
    (["--symbol", "BTCUSDT", "--interval", "1m", "--rest-url", "http://127.0.0.1:9"], 4, "unreachable"),
    (["--replay", "missing.csv"], 3, "missing.csv"),
])
def test_bad_input_has_a_message_not_a_traceback(make_fake: Any, tmp_path: Path, extra: list[str],
                                                 code: int, words: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    fake = make_fake()
    script = _scripts(tmp_path)[0]
    urls = [] if "--rest-url" in extra or "--replay" in extra else ["--rest-url", fake.rest_url]
    assert main(["paper", script, *extra, *urls, "--ws-url", fake.ws_url, "--duration", "0.5"]) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_script_error_and_a_gap_in_the_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.tbs").write_text("enter long when rsi(close) >\n", encoding="utf-8")
    assert main(["paper", "bad.tbs", "--replay", "x.csv"]) == 2
    assert "bad.tbs:1:" in capsys.readouterr().err
    data = _replay_file(tmp_path)
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines[:100] + lines[101:]) + "\n")
    assert main(["paper", _scripts(tmp_path)[0], "--replay", str(data)]) == 3
    err = capsys.readouterr().err
    assert "gap in the bars" in err and "1m.csv:101:" in err and "Traceback" not in err


@pytest.mark.parametrize(("fault", "words"), [
    ("young", "the exchange has 10 since NEWUSDT's listing"),  # a warm-up longer than the history
    ("hole", "1m.csv:46: gap in the bars"),  # the exchange never traded a minute inside the warm-up
])
def test_a_warm_up_the_exchange_cannot_give(make_fake: Any, tmp_path: Path, fault: str, words: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    from tests.data.bybit_testkit import NOW_MS, market_config

    symbols = market_config().symbols
    symbols["linear"]["NEWUSDT"] = NOW_MS - 10 * 60_000
    holes = {("BTCUSDT", NOW_MS - 3 * 60_000)} if fault == "hole" else set()
    fake = make_fake(symbols=symbols, holes=holes)
    store = tmp_path / "data" / "bybit" / "linear" / "BTCUSDT" / "1m.csv"  # an older bar stored
    store.parent.mkdir(parents=True)
    store.write_text("timestamp,open,high,low,close,volume\n2024-02-29T20:00:00Z,1,1,1,1,1\n")
    script = _scripts(tmp_path)[0]  # its warm-up: sma(close, 8) @ 5m and the 5-minute bar in progress
    symbol = "NEWUSDT" if fault == "young" else "BTCUSDT"
    code = main(["paper", script, "--symbol", symbol, "--interval", "1m", "--rest-url", fake.rest_url,
                 "--ws-url", fake.ws_url, "--duration", "0.5"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert words in err and "Traceback" not in err
    assert not list((tmp_path / "sessions").glob("*/journal.jsonl"))  # nothing started
