"""The loader's cache of validated frames: a hit equals a fresh parse, and no change to the file,
however well disguised, can bring back the frame of its old content."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tradebot.config import Config
from tradebot.data import cache, loader
from tradebot.data.loader import load_ohlcv
from tradebot.errors import DataError, UsageError

ROWS = 20_000  # about 1.3 MB: above cache.MIN_BYTES, still quick to parse


def write_bars(path: Path, rows: int = ROWS, seed: int = 3) -> Path:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, rows)))
    open_ = np.concatenate([[100.0], close[:-1]])
    frame = pl.DataFrame({
        "timestamp": 1_600_000_000_000 + 3_600_000 * np.arange(rows),
        "open": open_, "high": np.maximum(open_, close) * 1.001,
        "low": np.minimum(open_, close) * 0.999, "close": close,
        "volume": rng.integers(0, 1000, rows).astype(float)})
    frame.write_csv(path)
    assert path.stat().st_size >= cache.MIN_BYTES
    return path


@pytest.fixture
def bars(tmp_path: Path) -> Path:
    return write_bars(tmp_path / "bars.csv")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def no_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, parsing the CSV fails the test: what loads came from the cache."""
    def fail(*_args: object) -> None:
        raise AssertionError("the CSV was parsed again")
    monkeypatch.setattr(loader, "parse_with_layout", fail)


def test_a_hit_is_exactly_the_frame_of_a_fresh_parse(bars: Path, folder: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_ohlcv(bars)
    first = load_ohlcv(bars, cache_dir=folder)  # a miss: parses, then writes the entry
    assert cache.entry_path(folder, bars).exists()
    no_parsing(monkeypatch)
    hit = load_ohlcv(bars, cache_dir=folder, min_rows=2)
    assert hit.schema == fresh.schema
    assert hit.equals(fresh) and first.equals(fresh)
    # one chunk per column either way: the kernels and `to_numpy` read it in place
    assert hit.n_chunks("all") == fresh.n_chunks("all") == [1] * 6


def first_digit_of_field(data: bytes, field: int) -> int:
    """The offset of the first character of `field` (0-based) on a line in the middle of `data`."""
    start = data.index(b"\n", len(data) // 2) + 1
    for _ in range(field):
        start = data.index(b",", start) + 1
    assert data[start:start + 1].isdigit()
    return start


def rewrite_keeping_size_and_mtime(path: Path, offset: int, byte: bytes) -> None:
    before = path.stat()
    data = bytearray(path.read_bytes())
    assert data[offset:offset + 1] != byte
    data[offset:offset + 1] = byte
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns


def test_one_byte_changed_with_size_and_mtime_restored_is_a_miss(bars: Path, folder: Path) -> None:
    old = load_ohlcv(bars, cache_dir=folder)
    at = first_digit_of_field(bars.read_bytes(), 5)  # the volume: any digit keeps the bar valid
    rewrite_keeping_size_and_mtime(bars, at, b"9" if bars.read_bytes()[at:at + 1] != b"9" else b"8")
    changed = load_ohlcv(bars, cache_dir=folder)
    assert changed.equals(load_ohlcv(bars))  # the new content, not the cached old one
    assert not changed.equals(old)


def test_a_changed_file_that_no_longer_validates_is_refused_not_served(bars: Path, folder: Path) -> None:
    load_ohlcv(bars, cache_dir=folder)
    at = first_digit_of_field(bars.read_bytes(), 2)  # the high: 0 makes it below the open
    rewrite_keeping_size_and_mtime(bars, at, b"0")
    with pytest.raises(DataError, match="high"):
        load_ohlcv(bars, cache_dir=folder)


def entry_files(folder: Path, source: Path) -> list[str]:
    entry = cache.entry_path(folder, source)
    return sorted([entry.name, cache.payload_path(entry).name])


@pytest.mark.parametrize("part", ["payload", "header"])
@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage", "empty", "missing"])
def test_a_damaged_entry_is_ignored_and_rewritten(bars: Path, folder: Path, damage: str, part: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = load_ohlcv(bars, cache_dir=folder)
    entry = cache.entry_path(folder, bars)
    damaged = cache.payload_path(entry) if part == "payload" else entry
    blob = bytearray(damaged.read_bytes())
    if damage == "truncate":
        blob = blob[:len(blob) // 2]
    elif damage == "flip":  # same length: for the payload, only its digest can tell
        blob[-100 if part == "payload" else len(blob) // 2] ^= 0x01
    elif damage == "garbage":
        blob = bytearray(b"not an entry at all")
    else:
        blob = bytearray()
    if damage == "missing":
        damaged.unlink()
    else:
        damaged.write_bytes(bytes(blob))
    assert load_ohlcv(bars, cache_dir=folder).equals(fresh)
    no_parsing(monkeypatch)  # the entry was rewritten whole: the next load is a hit
    assert load_ohlcv(bars, cache_dir=folder).equals(fresh)


def test_a_payload_from_another_write_is_a_miss(tmp_path: Path, folder: Path) -> None:
    """Two runs on the same path but different contents, their writes interleaved: the header of
    one beside the payload of the other must not serve either frame."""
    bars = write_bars(tmp_path / "bars.csv", seed=3)
    first, stamp = load_ohlcv(bars, cache_dir=folder), bars.stat().st_mtime_ns
    entry = cache.entry_path(folder, bars)
    header = entry.read_bytes()
    write_bars(bars, seed=4)
    second = load_ohlcv(bars, cache_dir=folder)
    assert not second.equals(first)
    entry.write_bytes(header)  # the first content's header, the second content's payload
    write_bars(bars, seed=3)  # the first content again, with its mtime: the header's key matches it
    os.utime(bars, ns=(stamp, stamp))
    assert cache.mapped_key(bars) is not None and cache._read_header(entry)["key"] == asdict(cache.mapped_key(bars))
    assert load_ohlcv(bars, cache_dir=folder).equals(first)  # not the second frame: a miss, parsed afresh


def test_the_key_is_the_content_digest_of_the_bytes_read(bars: Path) -> None:
    """An independent digest of the file (xxhash's streaming interface, in pieces) is the key."""
    import xxhash

    streamed = xxhash.xxh3_128()
    with bars.open("rb") as handle:
        for piece in iter(lambda: handle.read(65_536), b""):
            streamed.update(piece)
    key = cache.mapped_key(bars)
    assert key is not None and key.digest == streamed.hexdigest()
    assert key == cache.SourceKey.of(bars.read_bytes(), bars.stat())


def test_small_files_and_invalid_files_are_not_cached(tmp_path: Path, folder: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("timestamp,open,high,low,close,volume\n1,1,1,1,1,1\n2,1,1,1,1,1\n")
    load_ohlcv(small, cache_dir=folder)
    bad = write_bars(tmp_path / "bad.csv")
    bad.write_bytes(bad.read_bytes().replace(b"\n", b"\nx", 1))
    for _ in range(2):
        with pytest.raises(DataError):
            load_ohlcv(bad, cache_dir=folder)
    assert not list(folder.glob("*")) if folder.exists() else True


def test_concurrent_processes_share_one_valid_entry(bars: Path, folder: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys; from pathlib import Path; from tradebot.data.loader import load_ohlcv; "
            "f = load_ohlcv(Path(sys.argv[1]), cache_dir=Path(sys.argv[2])); print(f['close'].sum())")
    runs = [subprocess.Popen([sys.executable, "-c", code, str(bars), str(folder)], stdout=subprocess.PIPE)
            for _ in range(4)]
    sums = {run.communicate(timeout=300)[0] for run in runs}
    assert all(run.returncode == 0 for run in runs) and len(sums) == 1
    assert sorted(p.name for p in folder.iterdir()) == entry_files(folder, bars)  # no temporaries
    fresh = load_ohlcv(bars)
    no_parsing(monkeypatch)
    assert load_ohlcv(bars, cache_dir=folder).equals(fresh)


def test_entry_names_are_portable_whatever_the_source_path(tmp_path: Path) -> None:
    for name in ("a b.csv", "données€.csv", "x" * 200 + ".csv", "CON.csv", "a:b.csv"):
        entry = cache.entry_path(tmp_path, tmp_path / name)
        assert entry.parent == tmp_path
        assert len(entry.stem) == 32 and all(c in "0123456789abcdef" for c in entry.stem)
    assert cache.entry_path(tmp_path, tmp_path / "a.csv") != cache.entry_path(tmp_path, tmp_path / "A.csv")


def test_old_entries_are_pruned(tmp_path: Path, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache, "MAX_ENTRIES", 2)
    source = write_bars(tmp_path / "0.csv")
    for i in range(4):
        copy = tmp_path / f"{i}.csv"
        copy.write_bytes(source.read_bytes())
        os.utime(copy, ns=(0, 10**18 + i))
        load_ohlcv(copy, cache_dir=folder)
        os.utime(cache.entry_path(folder, copy), ns=(0, 10**18 + i))  # written in this order
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        name for i in (2, 3) for name in entry_files(folder, tmp_path / f"{i}.csv"))


def test_a_payload_left_without_its_header_is_pruned_once_old(tmp_path: Path, folder: Path) -> None:
    bars = write_bars(tmp_path / "bars.csv")
    load_ohlcv(bars, cache_dir=folder)
    orphan, young = folder / ("0" * 32 + cache.PAYLOAD_SUFFIX), folder / ("1" * 32 + cache.PAYLOAD_SUFFIX)
    orphan.write_bytes(b"left by a writer that died before its header")
    young.write_bytes(b"a writer about to write its header")
    os.utime(orphan, ns=(0, 10**18))  # 2001: long ago
    other = write_bars(tmp_path / "other.csv", seed=5)
    load_ohlcv(other, cache_dir=folder)  # a store prunes
    assert not orphan.exists() and young.exists()
    assert set(entry_files(folder, bars)) <= {p.name for p in folder.iterdir()}


def test_configuration_turns_the_cache_off_or_moves_it(tmp_path: Path) -> None:
    assert cache.configured_dir(Config()) == cache.default_dir()
    assert cache.configured_dir(Config(), disabled=True) is None
    assert cache.configured_dir(Config(env={"TRADEBOT_RUN_CACHE": "off"})) is None
    assert cache.configured_dir(Config(tables={"run": {"cache": False}})) is None
    assert cache.configured_dir(Config(tables={"run": {"cache_dir": str(tmp_path)}})) == tmp_path
    with pytest.raises(UsageError, match="cache"):
        cache.configured_dir(Config(env={"TRADEBOT_RUN_CACHE": "maybe"}))


def test_tradebot_run_uses_the_configured_cache_and_no_cache_skips_it(
        bars: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from tradebot.cli import main

    script = tmp_path / "s.tbs"
    script.write_text('strategy "s"\nenter long when close > sma(close, 5)\nexit long when close < sma(close, 5)\n')
    monkeypatch.setenv("TRADEBOT_RUN_CACHE_DIR", str(tmp_path / "runs"))
    assert main(["run", str(script), "--data", str(bars), "--json", "--no-cache"]) == 0
    assert not (tmp_path / "runs").exists()
    uncached = capsys.readouterr().out
    assert main(["run", str(script), "--data", str(bars), "--json"]) == 0
    assert cache.entry_path(tmp_path / "runs", bars).exists()
    assert capsys.readouterr().out == uncached
    no_parsing(monkeypatch)
    assert main(["run", str(script), "--data", str(bars), "--json"]) == 0
    assert capsys.readouterr().out == uncached
