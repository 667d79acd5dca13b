"""What the pages read from disk, on hand-made files whose answers are known: a store series with
one hole, interval ordering, the journal reader's torn last line, the scripts listing."""
from __future__ import annotations

from pathlib import Path

from tradebot.dashboard.views import journal_events, scripts, store_series

HEADER = "timestamp,open,high,low,close,volume\n"


def candles(hours: list[int]) -> str:
    return HEADER + "".join(f"2024-01-01T{h:02d}:00:00Z,1,2,0.5,1.5,10\n" for h in hours)


def test_store_series_rows_span_and_gaps(tmp_path: Path) -> None:
    folder = tmp_path / "linear" / "BTCUSDT"
    folder.mkdir(parents=True)
    (folder / "1h.csv").write_text(candles([0, 1, 2, 5, 6]), encoding="utf-8")  # 03:00 and 04:00 missing: one gap
    (folder / "1m.csv").write_text(HEADER + "2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n", encoding="utf-8")
    (folder / "15m.csv").write_text("garbage\n", encoding="utf-8")
    rows = store_series(tmp_path)
    assert [r.interval for r in rows] == ["1m", "15m", "1h"]  # by length, not by spelling
    hourly = rows[2]
    assert (hourly.rows, hourly.gaps) == (5, 1)
    assert (hourly.first, hourly.last) == ("2024-01-01T00:00:00Z", "2024-01-01T06:00:00Z")
    assert hourly.size == (folder / "1h.csv").stat().st_size
    assert rows[1].gaps is None and rows[1].problem  # unreadable: said so, not a crash
    assert store_series(tmp_path / "missing") == []


def test_journal_reader_waits_for_a_torn_line(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"kind": "fill"}\nnot json\n{"kind": "eq', encoding="utf-8")
    events, offset = journal_events(journal, 0)
    assert events == [{"kind": "fill"}, {"text": "not json"}]
    with open(journal, "a", encoding="utf-8") as handle:
        handle.write('uity", "equity": 1000}\n')
    events, _ = journal_events(journal, offset)
    assert events == [{"kind": "equity", "equity": 1000}]


def test_scripts_skip_tool_folders(tmp_path: Path) -> None:
    for name in ("a.tbs", "sub/b.tbs", ".venv/c.tbs", "node_modules/d.tbs", ".git/e.tbs", "notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("", encoding="utf-8")
    assert scripts(tmp_path) == ["a.tbs", "sub/b.tbs"]
