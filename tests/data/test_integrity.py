"""`data check` findings with lines, and repair by refetch (plus the opt-in flagged fill)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bybit_testkit import M1, NOW_MS, fast_rest, run
from fake_bybit import FakeBybit
from tradebot.data.backfill import backfill
from tradebot.data.bybit import BybitRest
from tradebot.data.integrity import check_file
from tradebot.data.loader import load_ohlcv
from tradebot.data.repair import key_from_path, repair_file
from tradebot.data.store import CandleStore, SeriesKey, filled_path

KEY = SeriesKey("linear", "BTCUSDT", M1)
HEADER = "timestamp,open,high,low,close,volume\n"


def row(minute: int, *, o: float = 10, h: float = 11, lo: float = 9, c: float = 10.5,
        v: float = 1) -> str:
    return f"2024-01-01T00:{minute:02d}:00Z,{o},{h},{lo},{c},{v}\n"


def test_check_lists_every_problem_with_lines(tmp_path: Path) -> None:
    rows = [row(m) for m in range(20)]
    rows[3] = row(3, h=8)                      # line 5: OHLC violation
    rows[6] = row(5)                           # line 8: duplicate of line 7 (minute 6 now a gap)
    rows[9], rows[10] = rows[10], rows[9]      # line 12: out of order
    del rows[14:16]                            # a 2-candle gap
    rows[15:18] = [row(m, h=10, lo=10, c=10, v=0) for m in (17, 18, 19)]
    path = tmp_path / "1m.csv"
    path.write_text(HEADER + "".join(rows) + "2024-01-01T00:20:00Z,1")
    report = check_file(path)
    found = {(f.kind, f.line) for f in report.findings}
    assert {("ohlc", 5), ("dup", 8), ("order", 12), ("torn_tail", 20)} <= found
    assert [(g.missing, g.first_ms % 3_600_000 // 60_000) for g in report.gaps] == [(1, 6), (2, 14)]
    assert any(f.kind == "zero_volume" and not f.error for f in report.findings)
    assert not report.clean
    assert "1m.csv:5: field 'high'" in report.render()


def test_clean_file_and_bundled_data(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(HEADER + "".join(row(m) for m in range(10)))
    report = check_file(path)
    assert report.clean and report.interval is M1 and report.rows == 10


def fetched_store(fake: FakeBybit, root: Path) -> CandleStore:
    store = CandleStore(root)

    async def go() -> None:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            await backfill(rest, store, [KEY], since=NOW_MS - 3000 * 60_000)

    run(go())
    return store


def damage(path: Path) -> None:
    lines = path.read_text().splitlines(True)
    lines[500] = lines[500].replace(",", ",9999,", 1).rsplit(",", 1)[0] + "\n"  # garbage values
    del lines[1000:1100]                                  # a 100-candle gap
    lines.insert(40, lines[1500])                         # out of order
    lines.insert(700, lines[700])                         # duplicate
    path.write_text("".join(lines) + "2024-03-01T00:00:00Z,5")  # torn tail


def repair(fake: FakeBybit, store: CandleStore, *, fill: bool = False) -> Any:
    path = store.path(KEY)

    async def go() -> Any:
        async with BybitRest(fast_rest(fake.rest_url)) as rest:
            return await repair_file(path, rest, store=store, key=key_from_path(path), fill=fill)

    return run(go())


def test_repair_refetches_and_ends_clean(fake: FakeBybit, tmp_path: Path) -> None:
    store = fetched_store(fake, tmp_path)
    original = store.read(KEY)
    damage(store.path(KEY))
    assert not check_file(store.path(KEY)).clean
    result = repair(fake, store)
    assert result.refetched == 101 and result.filled == 0 and not result.remaining
    assert check_file(store.path(KEY)).clean
    assert load_ohlcv(store.path(KEY)).equals(original)


def test_unfillable_gap_stays_until_flagged_fill(fake: FakeBybit, tmp_path: Path) -> None:
    store = fetched_store(fake, tmp_path)
    first = store.first_start(KEY)
    assert first is not None
    missing = {first + k * 60_000 for k in range(101, 106)}  # file lines 103..107
    fake.config.holes.update(("BTCUSDT", t) for t in missing)
    lines = store.path(KEY).read_text().splitlines(True)
    store.path(KEY).write_text("".join(lines[:102] + lines[107:]))
    result = repair(fake, store)
    assert len(result.remaining) == 1 and result.remaining[0].missing == 5
    result = repair(fake, store, fill=True)
    assert result.filled == 5 and not result.remaining
    report = check_file(store.path(KEY))
    assert report.clean and any(f.kind == "filled" for f in report.findings)
    assert len(filled_path(store.path(KEY)).read_text().splitlines()) == 6
    frame = load_ohlcv(store.path(KEY))
    flat = frame.filter(frame["volume"] == 0)
    assert flat.height == 5 and (flat["high"] == flat["low"]).all()
