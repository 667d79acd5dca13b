"""Time at the data layer's edges: milliseconds <-> datetimes, the store's timestamp spelling, and
the times users write (`--since 90d`).

Times inside the data layer are integer milliseconds since the Unix epoch, UTC, because that is
what Bybit sends and what makes window arithmetic exact. Conversions to `datetime` happen at the
edges (CLI, frames). The intervals themselves and the calendar they follow live in `market/`;
their names are imported here because most of the data layer reads them from this module.
"""
from __future__ import annotations

import datetime as dt
import re

from ..errors import UsageError
from ..market.intervals import BY_CODE, INTERVALS, Interval, parse_interval
from ..market.timeframe import UNIT_MS

__all__ = ["BY_CODE", "INTERVALS", "Interval", "parse_interval", "to_ms", "to_datetime", "format_ms",
           "parse_time"]
UTC = dt.timezone.utc


def to_ms(moment: dt.datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def to_datetime(t_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(t_ms / 1000, tz=UTC)


def format_ms(t_ms: int) -> str:
    """The store's timestamp spelling, e.g. `2024-01-01T00:00:00Z`."""
    return to_datetime(t_ms).strftime("%Y-%m-%dT%H:%M:%SZ")


_RELATIVE = re.compile(r"^(\d+)\s*(m|h|d|w)$")


def parse_time(text: str, *, now_ms: int, flag: str = "--since") -> int:
    """`2024-01-01`, an ISO-8601 time (naive = UTC), epoch ms, or relative `90d`/`12h`/`30m`/`2w` ago."""
    text = text.strip()
    relative = _RELATIVE.match(text)
    if relative:
        return now_ms - int(relative.group(1)) * UNIT_MS[relative.group(2)]
    if text.isdigit() and len(text) >= 11:
        return int(text)
    try:
        return to_ms(dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")))
    except ValueError:
        raise UsageError(
            f"{flag}: cannot read '{text}' as a time; use a date (2024-01-01), an ISO-8601 time "
            f"(2024-01-01T12:00:00Z) or a relative age (90d, 12h, 30m, 2w)"
        ) from None
