"""Configuration precedence: flag > TRADEBOT_* environment > tradebot.toml > default."""
from __future__ import annotations

from pathlib import Path

import pytest

from tradebot import config as cfg
from tradebot.config import ConfigError, load_config


@pytest.fixture(autouse=True)
def no_user_config(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(cfg, "user_config_dir", lambda: tmp_path / "user-config")


def test_defaults_without_file(tmp_path: Path) -> None:
    config = load_config(cwd=tmp_path, env={})
    assert config.source is None
    assert config.get("run", "data", "fallback") == "fallback"


def test_file_then_env_then_flag(tmp_path: Path) -> None:
    (tmp_path / "tradebot.toml").write_text('[run]\ndata = "from-file.csv"\n')
    assert load_config(cwd=tmp_path, env={}).get("run", "data") == "from-file.csv"
    env = {"TRADEBOT_RUN_DATA": "from-env.csv", "UNRELATED": "x"}
    config = load_config(cwd=tmp_path, env=env)
    assert config.get("run", "data") == "from-env.csv"
    assert config.get("run", "data", flag="from-flag.csv") == "from-flag.csv"


def test_user_config_directory_is_the_fallback(tmp_path: Path, monkeypatch) -> None:
    user_dir = tmp_path / "user-config"
    user_dir.mkdir()
    (user_dir / "tradebot.toml").write_text('[run]\ndata = "user.csv"\n')
    work = tmp_path / "work"
    work.mkdir()
    assert load_config(cwd=work, env={}).get("run", "data") == "user.csv"


def test_broken_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "tradebot.toml").write_text("[run\n")
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path, env={})
    assert "tradebot.toml" in str(caught.value) and caught.value.exit_code == 2


def test_run_uses_configured_default_data(tmp_path: Path, monkeypatch, capsys, eurusd_path: Path) -> None:
    import json

    from tradebot.cli import main

    script = tmp_path / "s.tbs"
    script.write_text("enter long when close > open\nexit long when close < open\n")
    copy = tmp_path / "bars.csv"
    copy.write_bytes(eurusd_path.read_bytes())
    (tmp_path / "tradebot.toml").write_text(f'[run]\ndata = "{copy.as_posix()}"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(script), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["data"] == copy.as_posix()
