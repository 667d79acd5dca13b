"""A script is untrusted: its `data` line reaches only regular files under its own folder or a
configured data folder; `--data` reaches any regular file; errors never print a file's content."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tradebot.cli import main
from tradebot.config import Config
from tradebot.data.access import header_excerpt, read_regular_file, refusal
from tradebot.data.loader import load_ohlcv
from tradebot.errors import DataError
from tradebot.pipeline import data_path, load_strategy

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "data" / "EURUSD_1h.csv"
SECRET = "s3cr3t-api-key-do-not-print"
POSIX = pytest.mark.skipif(os.name == "nt", reason="symlinks, FIFOs and /dev need POSIX")


def script(folder: Path, data: str) -> Path:
    path = folder / "strategy.tbs"
    path.write_text(f'data "{data}"\nenter long when close > open\n')
    return path


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out + err


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A secret file outside the script's folder (like ~/.aws/credentials)."""
    secret = tmp_path / "home" / "credentials"
    secret.parent.mkdir()
    secret.write_text(f"key,value\napi_key,{SECRET}\n")
    return secret


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    return folder


@pytest.mark.parametrize("form", ["absolute", "dotdot"])
def test_script_cannot_name_a_file_outside_its_folder(project: Path, outside: Path, capsys,
                                                       form: str) -> None:
    named = str(outside) if form == "absolute" else "../home/credentials"
    code, text = run(capsys, "run", str(script(project, named)))
    assert code == 2
    assert SECRET not in text and "api_key" not in text
    assert f'strategy.tbs:1:6: error: cannot read `{named}`' in text
    assert "^" * (len(named) + 2) in text            # the caret spans the quoted string
    assert "hint: pass the file with --data, or move it under the script's folder" in text


def test_the_users_own_data_flag_may_name_any_file(project: Path, capsys) -> None:
    copy = project.parent / "elsewhere.csv"
    shutil.copy(BUNDLED, copy)
    code, text = run(capsys, "run", str(script(project, "/etc/passwd")), "--data", str(copy))
    assert code == 0 and "Total return" in text


@POSIX
def test_symlink_leading_out_of_the_folder_is_refused(project: Path, outside: Path, capsys) -> None:
    (project / "bars.csv").symlink_to(outside)
    code, text = run(capsys, "run", str(script(project, "bars.csv")))
    assert code == 2 and "cannot read `bars.csv`" in text and SECRET not in text


def test_files_under_the_script_folder_and_configured_folders_are_allowed(
        project: Path, tmp_path: Path) -> None:
    (project / "sub").mkdir()
    shutil.copy(BUNDLED, project / "sub" / "bars.csv")
    strategy = load_strategy(script(project, "sub/bars.csv"))
    assert data_path(strategy, flag=None, config=Config()) == project / "sub" / "bars.csv"
    shared = tmp_path / "shared"
    store = tmp_path / "store" / "linear" / "BTCUSDT"
    for folder in (shared, store):
        folder.mkdir(parents=True)
        shutil.copy(BUNDLED, folder / "1h.csv")
    config = Config(env={"TRADEBOT_RUN_DATA": str(shared / "default.csv"),
                         "TRADEBOT_BYBIT_STORE": str(tmp_path / "store")})
    for target in (shared / "1h.csv", store / "1h.csv"):
        strategy = load_strategy(script(project, str(target)))
        assert data_path(strategy, flag=None, config=config) == target
        with pytest.raises(Exception, match="cannot read"):
            data_path(strategy, flag=None, config=Config())


@POSIX
@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "fifo"])
def test_devices_and_fifos_are_refused_without_reading(project: Path, capsys, device: str) -> None:
    if device == "fifo":
        os.mkfifo(project / "fifo")  # opening it for reading would wait for a writer forever
        device = str(project / "fifo")
    code, text = run(capsys, "run", str(script(project, device)))
    assert code == 2 and "cannot read" in text
    code, text = run(capsys, "run", str(script(project, "x.csv")), "--data", device)
    assert code == 3 and "is not a regular file" in text


@POSIX
def test_proc_environ_is_never_printed(project: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TRADEBOT_TEST_SECRET", SECRET)
    code, text = run(capsys, "run", str(script(project, "/proc/self/environ")))
    assert code == 2 and SECRET not in text
    code, text = run(capsys, "run", str(script(project, "x.csv")), "--data", "/proc/self/environ")
    assert code == 3 and SECRET not in text and "TRADEBOT" not in text


def test_error_shows_only_a_short_excerpt_of_a_header(tmp_path: Path) -> None:
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join(f"column_{i}" for i in range(40)) + "\n1,2\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(wide)
    assert "found columns: column_0, column_1" in info.value.render()
    assert "column_39" not in info.value.render()
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x7fELF\x02\x01\x01" + SECRET.encode() + b"\n")
    with pytest.raises(DataError) as info:
        load_ohlcv(binary)
    assert SECRET not in info.value.render() and "ELF" not in info.value.render()


def test_header_excerpt_rules() -> None:
    assert header_excerpt("time,open,high") == "time,open,high"
    assert header_excerpt("<DATE>\t<TIME>\t<OPEN>") == "<DATE>\t<TIME>\t<OPEN>"
    assert header_excerpt("root:x:0:0:root:/root:/bin/bash") is None
    assert header_excerpt("PATH=/usr/bin\x00HOME=/root") is None
    assert len(header_excerpt("a," * 100) or "") <= 80


def test_nul_in_a_data_path_is_a_clear_error(project: Path, capsys) -> None:
    with pytest.raises(DataError, match="NUL"):
        read_regular_file(Path("bars\x00.csv"))
    assert refusal(project / "bars\x00.csv", [project]) == "the file name contains a NUL character"
    code, text = run(capsys, "run", str(script(project, "x.csv")), "--data", "bars\x00.csv")
    assert code == 3 and "NUL character" in text


def test_check_reports_a_data_line_the_script_may_not_read(project: Path, outside: Path,
                                                           capsys) -> None:
    code, text = run(capsys, "check", str(script(project, str(outside))))
    assert code == 2 and "cannot read" in text and SECRET not in text
    shutil.copy(BUNDLED, project / "bars.csv")
    code, text = run(capsys, "check", str(script(project, "bars.csv")))
    assert code == 0 and "ok" in text
