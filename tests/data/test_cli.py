"""The commands as a user runs them, against the fake: fetch, stream, data check, data repair."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bybit_testkit import NOW_MS
from fake_bybit import FakeBybit, WsFault
from tradebot.cli import main
from tradebot.data.integrity import check_file
from tradebot.data.loader import load_ohlcv
from tradebot.data.settings import KEYS

REPO = Path(__file__).resolve().parents[2]
FAST = {"TRADEBOT_BYBIT_RETRY_BASE": "0.005", "TRADEBOT_BYBIT_RETRY_CAP": "0.05",
        "TRADEBOT_BYBIT_BAN_PAUSE": "0.2", "TRADEBOT_BYBIT_RATE": "1000",
        "TRADEBOT_BYBIT_PING_INTERVAL": "0.05", "TRADEBOT_BYBIT_DEAD_AFTER": "0.3",
        "TRADEBOT_BYBIT_RECONNECT_BASE": "0.02", "TRADEBOT_BYBIT_RECONNECT_CAP": "0.1",
        "TRADEBOT_BYBIT_TIMEOUT": "2"}


@pytest.fixture(autouse=True)
def fast_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no stray tradebot.toml; relative store paths land here
    for name, value in FAST.items():
        monkeypatch.setenv(name, value)


def test_fetch_three_symbols_then_check_clean(fake: FakeBybit, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    fake.config.rest_faults.extend(["10006", "500", "403", "10016"])
    code = main(["fetch", "BTCUSDT", "ETHUSDT", "solusdt", "--interval", "15m", "--since", "30d",
                 "--rest-url", fake.rest_url])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert out.out.count("+2879 candles") == 3  # 30 days of 15m, the open candle dropped
    assert "windows" in out.err                    # progress with ETA on stderr
    store = tmp_path / "data" / "bybit" / "linear"
    assert main(["data", "check", str(store)]) == 0
    assert load_ohlcv(store / "SOLUSDT" / "15m.csv").height == 2879


def test_fetch_env_url_and_store_flag(fake: FakeBybit, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBOT_BYBIT_REST_URL", fake.rest_url)
    assert main(["fetch", "BTCUSDT", "--interval", "1d", "--since", "2024-01-01", "--category",
                 "spot", "--store", "elsewhere", "--no-progress"]) == 0
    assert load_ohlcv(tmp_path / "elsewhere" / "spot" / "BTCUSDT" / "1d.csv").height == 60


def test_repair_cli_after_damage(fake: FakeBybit, tmp_path: Path) -> None:
    assert main(["fetch", "BTCUSDT", "--interval", "1h", "--since", "20d", "--rest-url",
                 fake.rest_url, "--no-progress"]) == 0
    path = tmp_path / "data" / "bybit" / "linear" / "BTCUSDT" / "1h.csv"
    lines = path.read_text().splitlines(True)
    path.write_text("".join(lines[:50] + lines[60:] + lines[100:102]) + "2024-02-2")
    assert main(["data", "check", str(path)]) == 1
    assert main(["data", "repair", str(path), "--rest-url", fake.rest_url]) == 0
    assert check_file(path).clean


def test_stream_cli_survives_a_drop(make_fake: Any, tmp_path: Path) -> None:
    fake = make_fake(speed=600.0)
    fake.config.ws_faults.append(WsFault(drop_after=5))
    # 4 s of wall clock: 20 candles of backfill, then about 40 live ones at this speed. Under a
    # heavy load a 1.5 s run once ended inside the backfill (17 rows), before the drop.
    code = main(["stream", "BTCUSDT", "--interval", "1m", "--since", "20m", "--duration", "4",
                 "--rest-url", fake.rest_url, "--ws-url", fake.ws_url])
    assert code == 0
    assert fake.stream.connections >= 2  # the connection was dropped and the stream came back
    path = tmp_path / "data" / "bybit" / "linear" / "BTCUSDT" / "1m.csv"
    frame = load_ohlcv(path)
    assert frame.height >= 21 and check_file(path).clean
    # A second run resumes where the store ends: still one file without gaps or duplicates.
    assert main(["stream", "BTCUSDT", "--interval", "1m", "--duration", "0.6",
                 "--rest-url", fake.rest_url, "--ws-url", fake.ws_url]) == 0
    assert load_ohlcv(path).height > frame.height and check_file(path).clean


@pytest.mark.parametrize(("argv", "code", "words"), [
    (["fetch", "BTCUSDT", "--interval", "1hr", "--since", "1d"], 2, "did you mean '1h'"),
    (["fetch", "BTCUSDT", "--interval", "1h", "--since", "yesterday"], 2, "--since"),
    (["fetch", "NOPEUSDT", "--interval", "1h", "--since", "1d"], 2, "does not list NOPEUSDT"),
    (["data", "check", "missing.csv"], 3, "file not found"),
])
def test_user_errors_have_no_traceback(fake: FakeBybit, argv: list[str], code: int, words: str,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, *(["--rest-url", fake.rest_url] if argv[0] == "fetch" else [])]) == code
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_unreachable_rest_exits_4(capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRADEBOT_BYBIT_MAX_ATTEMPTS", "2")
    assert main(["fetch", "BTCUSDT", "--interval", "1h", "--since", "1d",
                 "--rest-url", "http://127.0.0.1:9"]) == 4
    assert "network error" in capsys.readouterr().err


def test_installed_command_runs(fake: FakeBybit, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("tradebot")
    if not exe.exists():
        pytest.skip("console script not installed")
    done = subprocess.run([str(exe), "fetch", "ETHUSDT", "--interval", "4h", "--since",
                           "2024-02-20", "--rest-url", fake.rest_url], capture_output=True,
                          text=True, timeout=60, env={**FAST, "PATH": ""}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "ETHUSDT" in done.stdout and (NOW_MS > 0)


def test_docs_list_every_config_key() -> None:
    docs = (REPO / "docs" / "data.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `(\w+)` \|", docs, flags=re.MULTILINE))
    assert documented == {k.name for k in KEYS}


@pytest.mark.parametrize("argv", [
    ["fetch", "BTCUSDT", "--interval", "1h", "--since", "yesterdayish"],
    ["fetch", "BTCUSDT", "--interval", "1h", "--since", "2024-01-01", "--until", "nope"],
    ["stream", "BTCUSDT", "--interval", "1m", "--since", "5x"],
])
def test_a_misspelt_time_is_refused_before_any_request(argv: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing listens on port 9: a request first would have been a network error (exit 4).
    unreachable = ["--rest-url", "http://127.0.0.1:9"] + (["--ws-url", "ws://127.0.0.1:9"] if argv[0] == "stream" else [])
    assert main([*argv, *unreachable]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "as a time" in err and "network" not in err


def _universe_script(tmp_path: Path) -> Path:
    path = tmp_path / "rotation.tbs"
    path.write_text('strategy "r"\nuniverse BTCUSDT, "ETHUSDT"\n'
                    "enter long when close > close of SOLUSDT\n")
    return path


def test_fetch_universe_gets_every_symbol_the_script_reads_then_the_script_runs(
        fake: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = _universe_script(tmp_path)
    code = main(["fetch", "--universe", str(script), "--interval", "1h", "--since", "10d",
                 "--rest-url", fake.rest_url])
    out = capsys.readouterr()
    assert code == 0, out.err
    # The universe's two symbols and the one read with `of`, each reported as it ends.
    assert out.out.count("+239 candles") == 3  # 10 days of 1h, the open candle dropped
    assert all(f"fetch: {s} +239 candles" in out.err for s in ("BTCUSDT", "ETHUSDT", "SOLUSDT"))
    assert "(3 of 3 symbols)" in out.err
    assert main(["run", str(script)]) == 0
    assert "Per symbol:" in capsys.readouterr().out


def test_fetch_universe_keeps_the_others_when_one_symbol_fails(
        fake: FakeBybit, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake.config.failing_symbols["ETHUSDT"] = "500"
    code = main(["fetch", "--universe", str(_universe_script(tmp_path)), "--interval", "1h",
                 "--since", "10d", "--rest-url", fake.rest_url, "--no-progress"])
    out = capsys.readouterr()
    assert code == 4
    assert out.out.count("+239 candles") == 2 and "ETHUSDT" not in out.out
    assert "linear ETHUSDT 1h: not fetched; the store keeps no candles" in out.err
    assert re.search(r"failed after \d+ attempts: HTTP 500", out.err)
    store = tmp_path / "data" / "bybit" / "linear"
    assert load_ohlcv(store / "BTCUSDT" / "1h.csv").height == 239
    assert not (store / "ETHUSDT" / "1h.csv").exists()


def test_fetch_universe_of_a_glob_script_names_nothing_to_fetch(fake: FakeBybit, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["fetch", "--universe", str(REPO / "examples" / "rotation.tbs"), "--interval", "1h",
                 "--since", "10d", "--rest-url", fake.rest_url])
    err = capsys.readouterr().err
    assert code == 2 and "no symbol to fetch: its universe is a glob of files" in err
    assert main(["fetch", "--interval", "1h", "--since", "10d"]) == 2
    assert "--universe SCRIPT" in capsys.readouterr().err
