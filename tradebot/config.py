"""Configuration in one place: defaults < tradebot.toml < TRADEBOT_* environment < command-line flags.

`tradebot.toml` is read from the working directory, else from the user's config directory
(platformdirs, so it is right on Windows too). Sections are plain tables, e.g.::

    [run]
    data = "data/EURUSD_1h.csv"

    [bybit]
    rest_url = "https://api.bybit.com"
    ws_url = "wss://stream.bybit.com"
    store = "data/bybit"

An environment variable TRADEBOT_<SECTION>_<KEY> (upper case) overrides the file; flags override both
(callers pass them to `Config.get(..., flag=...)`).
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on 3.10
    import tomli as tomllib

from .errors import UserError

CONFIG_FILE_NAME = "tradebot.toml"
ENV_PREFIX = "TRADEBOT_"


class ConfigError(UserError):
    """tradebot.toml could not be read (exit code 2)."""

    exit_code = 2


@dataclass(frozen=True)
class Config:
    """Resolved settings: the TOML tables plus the environment, queried by section and key."""

    tables: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    source: Path | None = None

    def get(self, section: str, key: str, default: Any = None, *, flag: Any = None) -> Any:
        """The value of `section.key`: flag if given, else environment, else file, else default."""
        if flag is not None:
            return flag
        env_name = f"{ENV_PREFIX}{section}_{key}".upper()
        if env_name in self.env:
            return self.env[env_name]
        return self.tables.get(section, {}).get(key, default)


def as_bool(value: Any) -> bool:
    """A true/false setting from TOML (a bool) or the environment (`1`/`true`/`yes`/`on`, `0`/…)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def user_config_dir() -> Path:
    from platformdirs import user_config_dir as _dir

    return Path(_dir("tradebot", appauthor=False))


def find_config_file(cwd: Path | None = None) -> Path | None:
    """The first tradebot.toml: working directory, then the user's config directory."""
    for folder in (cwd or Path.cwd(), user_config_dir()):
        candidate = folder / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_config(cwd: Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read tradebot.toml (if any) and the TRADEBOT_* environment."""
    env = dict(os.environ if env is None else env)
    env = {k: v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    path = find_config_file(cwd)
    if path is None:
        return Config(tables={}, env=env, source=None)
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from None
    return Config(tables=tables, env=env, source=path)
