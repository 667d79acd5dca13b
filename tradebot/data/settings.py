"""The `[bybit]` configuration section: every key, its default and type, in one table.

Each key can be set in tradebot.toml (`[bybit] rest_url = "..."`), in the environment
(`TRADEBOT_BYBIT_REST_URL`), or, for the few that have one, by a command-line flag; precedence is
flag > environment > file > default (see `tradebot.config`). docs/data.md lists the same table
and a test keeps the two in step.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..config import Config, as_bool
from ..errors import UsageError
from .access import DEFAULT_ROOT
from .bybit import RestSettings
from .ratelimit import Backoff
from .store import CandleStore
from .wsconn import StreamSettings

SECTION = "bybit"


def _optional_float(value: Any) -> float | None:
    return None if value in (None, "", "none", "off") else float(value)


@dataclass(frozen=True)
class Key:
    """One configuration key: default, converter, and what it does (shown in docs/data.md)."""

    name: str
    default: Any
    convert: Callable[[Any], Any]
    help: str


KEYS: tuple[Key, ...] = (
    Key("rest_url", "https://api.bybit.com", str, "REST base URL (flag --rest-url)"),
    Key("ws_url", "wss://stream.bybit.com", str,
        "stream base URL; /v5/public/<category> is appended (flag --ws-url)"),
    Key("store", DEFAULT_ROOT, str, "store root folder (flag --store)"),
    Key("category", "linear", str, "default category: linear, spot or inverse (flag --category)"),
    Key("concurrency", 4, int, "REST requests in flight at once, across all symbols"),
    Key("rate", 10.0, float, "client-side REST rate limit, requests per second"),
    Key("burst", 5, int, "token-bucket burst size"),
    Key("timeout", 10.0, float, "seconds before one REST request is abandoned"),
    Key("max_attempts", 6, int, "tries per REST request before giving up (exit code 4)"),
    Key("retry_base", 0.5, float, "first retry delay, seconds; doubles each time"),
    Key("retry_cap", 30.0, float, "longest retry delay, seconds (also caps the 10006 reset wait)"),
    Key("ban_pause", 600.0, float, "pause after an HTTP 403 (IP ban), seconds"),
    Key("ping_interval", 20.0, float, "stream heartbeat, seconds"),
    Key("dead_after", 30.0, float, "reconnect when the stream is silent this long, seconds"),
    Key("ack_timeout", 10.0, float, "wait for a subscribe ack, seconds"),
    Key("reconnect_base", 0.5, float, "first reconnect delay, seconds; doubles each time"),
    Key("reconnect_cap", 30.0, float, "longest reconnect delay, seconds"),
    Key("lock_timeout", 30.0, float, "wait for another writer's file lock, seconds"),
    Key("retention_days", None, _optional_float, "keep only the last N days (default: keep all)"),
    Key("fsync", True, as_bool, "fsync every write (turn off only for throwaway data)"),
)


@dataclass(frozen=True)
class DataSettings:
    """Resolved settings for one command."""

    rest: RestSettings
    stream: StreamSettings
    store_root: Path
    category: str
    concurrency: int
    lock_timeout: float
    retention_days: float | None
    fsync: bool

    def store(self) -> CandleStore:
        return CandleStore(self.store_root, lock_timeout=self.lock_timeout,
                           retention_days=self.retention_days, fsync=self.fsync)


def resolve(config: Config, flags: dict[str, Any] | None = None) -> dict[str, Any]:
    """Every key's value (flags > env > file > default), converted; bad values are UsageErrors."""
    flags = flags or {}
    values = {}
    for key in KEYS:
        raw = config.get(SECTION, key.name, key.default, flag=flags.get(key.name))
        try:
            values[key.name] = key.convert(raw) if raw is not None else None
        except (TypeError, ValueError) as exc:
            raise UsageError(f"configuration {SECTION}.{key.name}: {exc}") from None
    if values["category"] not in ("linear", "spot", "inverse"):
        raise UsageError(f"category must be linear, spot or inverse, not '{values['category']}'")
    return values


def load_settings(config: Config, flags: dict[str, Any] | None = None) -> DataSettings:
    v = resolve(config, flags)
    rest = RestSettings(
        base_url=v["rest_url"], timeout=v["timeout"], rate=v["rate"], burst=v["burst"],
        max_attempts=v["max_attempts"], ban_pause=v["ban_pause"],
        backoff=Backoff(base=v["retry_base"], cap=v["retry_cap"]))
    stream = StreamSettings(
        ws_url=v["ws_url"], ping_interval=v["ping_interval"], dead_after=v["dead_after"],
        ack_timeout=v["ack_timeout"], open_timeout=v["timeout"],
        reconnect=Backoff(base=v["reconnect_base"], cap=v["reconnect_cap"]))
    return DataSettings(rest=rest, stream=stream, store_root=Path(v["store"]),
                        category=v["category"], concurrency=v["concurrency"],
                        lock_timeout=v["lock_timeout"], retention_days=v["retention_days"],
                        fsync=v["fsync"])
