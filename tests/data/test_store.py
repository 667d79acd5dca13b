"""The store: layout, appends vs merges, torn-tail repair, atomic replace, lock, retention, SIGKILL."""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from tradebot.data.intervals import INTERVALS, to_ms
from tradebot.data.loader import load_ohlcv
from tradebot.market.bars import OHLCV_SCHEMA
from tradebot.data.store import CandleStore, SeriesKey, repair_tail
from tradebot.errors import DataError

KEY = SeriesKey("linear", "BTCUSDT", INTERVALS["1m"])
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
REPO = Path(__file__).resolve().parents[2]


def candles(first: int, count: int, *, start: dt.datetime = T0) -> pl.DataFrame:
    idx = list(range(first, first + count))
    return pl.DataFrame({
        "timestamp": [start + dt.timedelta(minutes=i) for i in idx],
        "open": [100.0 + i for i in idx], "high": [101.5 + i for i in idx],
        "low": [99.25 + i for i in idx], "close": [100.5 + i for i in idx],
        "volume": [float(i % 7) for i in idx],
    }, schema=OHLCV_SCHEMA)


def test_layout_and_format_read_by_loader(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    assert store.merge(KEY, candles(0, 3)) == 3
    path = tmp_path / "linear" / "BTCUSDT" / "1m.csv"
    assert store.path(KEY) == path
    assert path.read_text().splitlines()[:2] == [
        "timestamp,open,high,low,close,volume", "2024-01-01T00:00:00Z,100.0,101.5,99.25,100.5,0.0"]
    assert load_ohlcv(path).equals(candles(0, 3))


def test_merge_appends_inserts_and_is_idempotent(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.merge(KEY, candles(10, 10))
    size = store.path(KEY).stat().st_size
    assert store.merge(KEY, candles(15, 5)) == 0          # all known: nothing written
    assert store.path(KEY).stat().st_size == size
    assert store.merge(KEY, candles(18, 5)) == 3          # overlap + tail: append
    assert store.merge(KEY, candles(0, 12)) == 10         # head: rewrite
    changed = candles(5, 1).with_columns(pl.lit(1.0).alias("volume"))
    assert store.merge(KEY, changed) == 0                 # stored candles are final
    assert store.read(KEY).equals(candles(0, 23))
    assert store.first_start(KEY) == to_ms(T0) and store.last_start(KEY) == to_ms(T0) + 22 * 60_000


def test_torn_tail_is_cut_before_the_next_write(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.merge(KEY, candles(0, 5))
    with store.path(KEY).open("ab") as handle:
        handle.write(b"2024-01-01T00:05:00Z,105.0,10")   # a crash mid-append
    with pytest.raises(DataError):
        load_ohlcv(store.path(KEY))                      # the loader refuses a torn file
    assert store.last_start(KEY) == to_ms(T0) + 4 * 60_000
    assert store.merge(KEY, candles(5, 2)) == 2
    assert load_ohlcv(store.path(KEY)).equals(candles(0, 7))


def test_nul_tail_after_power_loss(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.merge(KEY, candles(0, 2))
    with store.path(KEY).open("ab") as handle:
        handle.write(b"\0" * 300)
    assert repair_tail(store.path(KEY)) == 300
    assert load_ohlcv(store.path(KEY)).equals(candles(0, 2))


def test_replace_is_atomic_for_readers(tmp_path: Path) -> None:
    store = CandleStore(tmp_path)
    store.merge(KEY, candles(0, 2000))
    seen: list[int] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            seen.append(load_ohlcv(store.path(KEY)).height)

    thread = threading.Thread(target=reader)
    thread.start()
    for n in range(5):
        store.replace(KEY, candles(0, 2000 + n))
    stop.set()
    thread.join()
    assert seen and set(seen) <= {2000, 2001, 2002, 2003, 2004}
    assert not list(store.path(KEY).parent.glob("*.tmp"))


def test_lock_timeout_names_the_file(tmp_path: Path) -> None:
    holder = CandleStore(tmp_path)
    waiter = CandleStore(tmp_path, lock_timeout=0.1)
    holder.merge(KEY, candles(0, 1))
    code = textwrap.dedent(f"""
        import sys, time
        from filelock import FileLock
        with FileLock({str(holder.path(KEY)) + '.lock'!r}):
            print('locked', flush=True)
            time.sleep(5)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
        with pytest.raises(DataError, match="lock"):
            waiter.merge(KEY, candles(1, 1))
    finally:
        proc.kill()
        proc.wait()
    assert waiter.merge(KEY, candles(1, 1)) == 1  # the OS freed the dead holder's lock


def test_retention_keeps_last_days(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    store = CandleStore(tmp_path, retention_days=1.0)
    old = candles(0, 3 * 24 * 60, start=now - dt.timedelta(days=3))
    store.merge(SeriesKey("linear", "BTCUSDT", INTERVALS["1m"]), old)
    kept = store.read(KEY)
    assert kept["timestamp"].min() >= now - dt.timedelta(days=1, minutes=1)
    assert kept["timestamp"].max() == old["timestamp"].max()


WRITER = """
import sys, datetime as dt
sys.path.insert(0, {repo!r})
import polars as pl
from tradebot.data.store import CandleStore, SeriesKey
from tradebot.data.intervals import INTERVALS
from tradebot.market.bars import OHLCV_SCHEMA
store = CandleStore({root!r})
key = SeriesKey("linear", "BTCUSDT", INTERVALS["1m"])
t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
i = 0
while True:
    n = 1 + i % 400                      # batches from one row to 400 rows
    idx = range(i, i + n)
    frame = pl.DataFrame({{"timestamp": [t0 + dt.timedelta(minutes=k) for k in idx],
        "open": [100.0 + k for k in idx], "high": [101.5 + k for k in idx],
        "low": [99.25 + k for k in idx], "close": [100.5 + k for k in idx],
        "volume": [float(k % 7) for k in idx]}}, schema=OHLCV_SCHEMA)
    store.merge(key, frame)
    i += n
    if i > 2000:
        print("running", flush=True)
"""


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL is POSIX-only")
@pytest.mark.parametrize("delay", [0.05, 0.13, 0.31])
def test_sigkill_mid_append_leaves_a_recoverable_store(tmp_path: Path, delay: float) -> None:
    script = WRITER.format(repo=str(REPO), root=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "running"
    time.sleep(delay)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    store = CandleStore(tmp_path, lock_timeout=2.0)
    last = store.last_start(KEY)
    assert last is not None
    count = (last - to_ms(T0)) // 60_000 + 1
    # A new writer takes over: the lock is free, the tail is repaired, no candle is lost or doubled.
    store.merge(KEY, candles(0, count + 50))
    assert load_ohlcv(store.path(KEY)).equals(candles(0, count + 50))


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_files_are_created_with_the_umask_mode(tmp_path: Path, umask: int) -> None:
    """Issue 11.17: a new store file (and every rewrite of one) gets 0666 minus the umask, as
    any other program's file would (0644 under 022), not tempfile's 0600."""
    expected = 0o666 & ~umask if os.name != "nt" else 0o666  # Windows keeps only a read-only bit
    old = os.umask(umask)
    try:
        store = CandleStore(tmp_path, fsync=False)
        store.merge(KEY, candles(10, 3))                 # a new file
        assert store.path(KEY).stat().st_mode & 0o777 == expected
        store.merge(KEY, candles(0, 3))                  # a rewrite (atomic replace)
        assert store.path(KEY).stat().st_mode & 0o777 == expected
    finally:
        os.umask(old)
