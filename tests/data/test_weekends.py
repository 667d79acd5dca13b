"""`data check` on markets that close at weekends (FX, equities): which gaps are weekend closures,
across US daylight-saving switches and the 25 Dec / 1 Jan holidays, and what the CLI says."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Sequence

import pytest

from tradebot import config as cfg
from tradebot.cli import main
from tradebot.data.integrity import Report, check_file
from tradebot.data.sessions import closure_kind, trading_days

HEADER = "timestamp,open,high,low,close,volume\n"
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def utc(text: str) -> dt.datetime:
    """`2024-07-05T21` (an hour) or `2024-07-05` (a day), UTC."""
    return dt.datetime.fromisoformat(text if len(text) == 10 else f"{text}:00").replace(
        tzinfo=dt.timezone.utc)


def candles(first: str, last: str, step: dt.timedelta, *,
            missing: Sequence[tuple[str, str]] = ()) -> str:
    """CSV text: a candle every `step` from `first` to `last`, minus the `missing` ranges (both ends
    included). The ranges are written out by hand in each test, so the fixture does not borrow the
    rule it tests."""
    holes = [(utc(a), utc(b)) for a, b in missing]
    rows, moment = [], utc(first)
    while moment <= utc(last):
        if not any(a <= moment <= b for a, b in holes):
            rows.append(f"{moment:%Y-%m-%dT%H:%M:%SZ},1.1,1.2,1.0,1.15,100\n")
        moment += step
    return HEADER + "".join(rows)


def fx_file(tmp_path: Path, first: str, last: str, missing: Sequence[tuple[str, str]]) -> Path:
    path = tmp_path / "EURUSD_1h.csv"  # not the store layout: an exported FX file
    path.write_text(candles(first, last, HOUR, missing=missing))
    return path


def ms(text: str) -> int:
    return int(utc(text).timestamp() * 1000)


def gap_spans(report: Report) -> list[tuple[int, int]]:
    """(first, last) missing start of every gap that is an error."""
    return [(g.first_ms, g.last_ms) for g in report.error_gaps]


# --- the rule: trading days roll at 17:00 New York time ---------------------------------------

@pytest.mark.parametrize(("moment", "day"), [
    ("2024-07-05T20", "2024-07-05"),  # Fri 16:00 EDT: still Friday's session
    ("2024-07-05T21", "2024-07-06"),  # Fri 17:00 EDT: trading day Saturday
    ("2024-01-12T21", "2024-01-12"),  # Fri 16:00 EST: still Friday (winter closes an hour later)
    ("2024-01-12T22", "2024-01-13"),  # Fri 17:00 EST
    ("2024-03-10T20", "2024-03-10"),  # Sun 16:00 EDT, the day clocks went forward: closed Sunday
    ("2024-03-10T21", "2024-03-11"),  # Sun 17:00 EDT: Monday's session opens
    ("2024-11-03T21", "2024-11-03"),  # Sun 16:00 EST, the day clocks went back: closed Sunday
    ("2024-11-03T22", "2024-11-04"),  # Sun 17:00 EST
])
def test_trading_day_rolls_at_five_pm_new_york(moment: str, day: str) -> None:
    assert trading_days([ms(moment)]) == [dt.date.fromisoformat(day)]


@pytest.mark.parametrize(("first", "last", "kind"), [
    ("2024-07-06", "2024-07-07", "weekend"),
    ("2024-07-07", "2024-07-07", "weekend"),     # part of a weekend is still inside the closure
    ("2023-12-23", "2023-12-25", "holiday"),     # Sat, Sun, Christmas Monday
    ("2021-01-01", "2021-01-03", "holiday"),     # New Year's Friday, Sat, Sun
    ("2024-12-25", "2024-12-25", "holiday"),     # Christmas on a Wednesday: closed all the same
    ("2024-07-06", "2024-07-08", None),          # an ordinary Monday is open
    ("2024-07-05", "2024-07-07", None),          # so is Friday
    ("2024-07-03", "2024-07-03", None),          # a Wednesday
    ("2024-07-06", "2024-07-14", None),          # two weekends and the week between
])
def test_closure_kind(first: str, last: str, kind: str | None) -> None:
    assert closure_kind(dt.date.fromisoformat(first), dt.date.fromisoformat(last)) == kind


# --- check_file on hand-made FX files ----------------------------------------------------------

SUMMER_WEEKEND = ("2024-07-05T21", "2024-07-07T20")  # closes 17:00 EDT = 21:00 UTC
WINTER_WEEKEND = ("2024-01-12T22", "2024-01-14T21")  # closes 17:00 EST = 22:00 UTC
SPRING_FORWARD = ("2024-03-08T22", "2024-03-10T20")  # closes in EST, reopens in EDT: 47 hours
FALL_BACK = ("2024-11-01T21", "2024-11-03T21")       # closes in EDT, reopens in EST: 49 hours


def test_weekend_gap_accepted_weekday_gap_still_an_error(tmp_path: Path) -> None:
    wednesday = ("2024-07-10T10", "2024-07-10T10")
    path = fx_file(tmp_path, "2024-07-03T00", "2024-07-12T12", [SUMMER_WEEKEND, wednesday])
    report = check_file(path, weekends_closed=True)
    assert not report.clean
    assert [(g.missing, g.closure) for g in report.accepted] == [(48, "weekend")]
    assert gap_spans(report) == [(ms("2024-07-10T10"), ms("2024-07-10T10"))]
    text = report.render(bybit_store=False)
    assert "gap: 1 candle(s) missing: 2024-07-10T10:00:00Z" in text
    assert "accepted 1 weekend closure(s)" in text

    plain = check_file(path)
    assert len(plain.error_gaps) == 2 and not plain.accepted


@pytest.mark.parametrize("weekend", [WINTER_WEEKEND, SPRING_FORWARD, FALL_BACK, SUMMER_WEEKEND])
def test_dst_shifted_weekends_are_closures(tmp_path: Path, weekend: tuple[str, str]) -> None:
    friday = utc(weekend[0]) - 3 * DAY
    monday = utc(weekend[1]) + 2 * DAY
    path = fx_file(tmp_path, f"{friday:%Y-%m-%dT%H}", f"{monday:%Y-%m-%dT%H}", [weekend])
    report = check_file(path, weekends_closed=True)
    assert report.clean, report.render()
    assert len(report.accepted) == 1


@pytest.mark.parametrize(("missing", "why"), [
    (("2024-07-05T21", "2024-07-08T03"), "weekend plus Monday 00:00-03:00 UTC"),
    (("2024-07-05T15", "2024-07-07T20"), "Friday afternoon plus the weekend"),
    (("2024-07-05T20", "2024-07-07T20"), "summer Friday 16:00 EDT is still open"),
    (("2024-07-05T21", "2024-07-07T21"), "summer Sunday 17:00 EDT is already open"),
    (("2024-07-05T21", "2024-07-08T20"), "an ordinary Monday is no holiday"),
])
def test_weekend_plus_weekday_hours_is_an_error_with_its_range(
        tmp_path: Path, missing: tuple[str, str], why: str) -> None:
    path = fx_file(tmp_path, "2024-07-01T00", "2024-07-12T00", [missing])
    report = check_file(path, weekends_closed=True)
    assert not report.clean, why
    assert not report.accepted
    assert gap_spans(report) == [(ms(missing[0]), ms(missing[1]))]
    first, last = (f"{utc(t):%Y-%m-%dT%H:%M:%SZ}" for t in missing)
    assert f"{first} .. {last}" in report.render()


def test_winter_sunday_four_pm_utc_is_still_closed(tmp_path: Path) -> None:
    """21:00 UTC on a winter Sunday is 16:00 in New York: the same UTC hour that is open in summer
    is closed here, which a fixed-UTC rule cannot get right."""
    path = fx_file(tmp_path, "2024-01-08T00", "2024-01-18T00", [WINTER_WEEKEND])
    assert check_file(path, weekends_closed=True).clean


def test_christmas_monday_extends_the_weekend(tmp_path: Path) -> None:
    christmas = ("2023-12-22T22", "2023-12-25T21")  # Fri 17:00 EST .. Mon 17:00 EST
    path = fx_file(tmp_path, "2023-12-18T00", "2023-12-28T00", [christmas])
    report = check_file(path, weekends_closed=True)
    assert report.clean
    assert [g.closure for g in report.accepted] == ["holiday"]
    assert "(1 include 25 Dec or 1 Jan)" in report.render()


def test_daily_candles_weekends_and_a_missing_friday(tmp_path: Path) -> None:
    path = tmp_path / "SPY_1d.csv"
    weekends = [("2024-07-06", "2024-07-07"), ("2024-07-13", "2024-07-14")]
    path.write_text(candles("2024-07-01", "2024-07-19", DAY, missing=weekends))
    assert check_file(path, weekends_closed=True).clean
    path.write_text(candles("2024-07-01", "2024-07-19", DAY,
                            missing=[("2024-07-05", "2024-07-07"), weekends[1]]))
    report = check_file(path, weekends_closed=True)
    assert [(g.missing, g.closure) for g in report.error_gaps] == [(3, None)]
    assert len(report.accepted) == 1


def test_the_bundled_eurusd_file_is_clean_with_weekends_closed(eurusd_path: Path) -> None:
    report = check_file(eurusd_path, weekends_closed=True)
    assert report.clean
    assert len(report.accepted) == 42
    # Christmas 2017 and New Year 2018 fell on Mondays: both weekends ran a day longer.
    assert sum(g.closure == "holiday" for g in report.accepted) == 2


# --- the command ---------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cfg, "user_config_dir", lambda: tmp_path / "user-config")
    monkeypatch.delenv("TRADEBOT_DATA_WEEKENDS", raising=False)


def check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["data", "check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_bundled_file_without_the_flag_points_at_it(
        eurusd_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, str(eurusd_path))
    assert code == 1
    assert ("NOT CLEAN: all 42 gaps are weekend closures (FX/equity hours); pass --weekends "
            "closed to accept them") in out
    assert "data repair" not in out
    assert "(weekend closure)" in out


def test_cli_bundled_file_with_the_flag(eurusd_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = check(capsys, str(eurusd_path), "--weekends", "closed")
    assert code == 0
    assert out.splitlines()[-2:] == [
        "  weekends closed: accepted 42 weekend closure(s) (2 include 25 Dec or 1 Jan)", "  OK"]


def test_cli_weekday_gap_in_an_exported_file_suggests_re_export(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = fx_file(tmp_path, "2024-07-01T00", "2024-07-12T00",
                   [SUMMER_WEEKEND, ("2024-07-10T10", "2024-07-10T11")])
    code, out, _ = check(capsys, str(path), "--weekends", "closed")
    assert code == 1
    assert "error: gap: 2 candle(s) missing: 2024-07-10T10:00:00Z .. 2024-07-10T11:00:00Z" in out
    assert "not in the Bybit store layout" in out
    assert f"`tradebot data repair {path} --category CATEGORY --symbol SYMBOL --interval 1h`" in out
    assert "re-export the data from its source" in out
    assert "run `tradebot data repair` on it" not in out

    code, out, _ = check(capsys, str(path))
    assert code == 1
    assert "1 of 2 gaps are weekend closures (pass --weekends closed to accept them)" in out
    assert "for the rest, the file is not in the Bybit store layout" in out


def test_cli_store_file_keeps_the_repair_hint(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Bybit trades 24/7: a weekend gap in its store is missing data, and repair can refetch it."""
    path = tmp_path / "data" / "bybit" / "linear" / "BTCUSDT" / "1h.csv"
    path.parent.mkdir(parents=True)
    path.write_text(candles("2024-07-01T00", "2024-07-12T00", HOUR, missing=[SUMMER_WEEKEND]))
    code, out, _ = check(capsys, str(path))
    assert code == 1
    assert "NOT CLEAN: run `tradebot data repair` on it" in out
    assert "weekend" not in out


def test_cli_reads_weekends_from_config_and_the_flag_wins(
        tmp_path: Path, eurusd_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "tradebot.toml").write_text('[data]\nweekends = "closed"\n')
    assert check(capsys, str(eurusd_path))[0] == 0
    assert check(capsys, str(eurusd_path), "--weekends", "open")[0] == 1
    monkeypatch.setenv("TRADEBOT_DATA_WEEKENDS", "open")
    assert check(capsys, str(eurusd_path))[0] == 1


def test_cli_bad_weekends_in_config_is_a_usage_error(
        tmp_path: Path, eurusd_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tradebot.toml").write_text('[data]\nweekends = "sometimes"\n')
    code, out, err = check(capsys, str(eurusd_path))
    assert code == 2 and not out
    assert "configuration data.weekends: expected open or closed, got 'sometimes'" in err
    assert "Traceback" not in err


def test_cli_bad_weekends_flag_is_a_usage_error(eurusd_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["data", "check", str(eurusd_path), "--weekends", "shut"])
    assert stop.value.code == 2
    assert "invalid choice: 'shut'" in capsys.readouterr().err
