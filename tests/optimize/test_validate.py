"""Validation: fold boundaries by hand, stitching by hand, and each fold's out-of-sample result
against a plain `tradebot run` on that slice of the data."""
from __future__ import annotations

import json

import polars as pl
import pytest

from tradebot.cli import main
from tradebot.errors import UsageError
from tradebot.lang.optimize_check import Validation
from tradebot.optimize.batch import Window
from tradebot.optimize.validate import Fold, decay, decay_undefined, make_folds, stitch

from .conftest import EURUSD, write_script


def test_split_and_walk_forward_folds_by_hand() -> None:
    assert make_folds(Validation("split", train_fraction=0.7), 1000) == [Fold(1, Window(0, 700), Window(700, 1000))]
    rolling = make_folds(Validation("walk_forward", folds=3), 1000)
    assert [(f.train, f.test) for f in rolling] == [
        (Window(0, 250), Window(250, 500)), (Window(250, 500), Window(500, 750)),
        (Window(500, 750), Window(750, 1000))]
    anchored = make_folds(Validation("walk_forward", folds=3, anchored=True), 1000)
    assert [f.train for f in anchored] == [Window(0, 250), Window(0, 500), Window(0, 750)]
    with pytest.raises(UsageError, match="too few"):
        make_folds(Validation("walk_forward", folds=5), 8)


def test_stitching_chains_each_window_from_where_the_last_ended() -> None:
    t = pl.Series([1, 2, 3, 4], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC"))
    first = pl.DataFrame({"timestamp": t[:2], "equity": [100.0, 110.0]})
    second = pl.DataFrame({"timestamp": t[2:], "equity": [100.0, 90.0]})
    stitched = stitch([first, second], capital=100.0)
    assert stitched["equity"].to_list() == pytest.approx([100.0, 110.0, 110.0, 99.0], rel=1e-15)
    assert stitched["fold"].to_list() == [1, 1, 2, 2]
    assert decay(2.0, 0.5) == 0.75 and decay(None, 1.0) is None and decay(0.0, 1.0) is None
    assert decay(-0.5, 1.0) == -3.0  # better out of sample: negative decay
    assert decay(-10.0, -12.0, maximize=False) == -0.2 and decay(-10.0, -8.0, maximize=False) == 0.2


def test_decay_is_undefined_when_the_in_sample_value_is_near_zero() -> None:
    # Issue 11.13: in-sample Sharpe -0.051, out-of-sample 3.32 was reported as "decay -6567%".
    assert decay(-0.051, 3.32) is None and decay_undefined(-0.051, 3.32)
    assert decay(0.0, 0.0) is None and decay_undefined(0.0, 0.0)
    assert not decay_undefined(-0.5, 1.0) and not decay_undefined(None, 1.0)
    assert decay(1.0, 9.0) == -8.0  # a tenth of the out-of-sample value: still a meaningful ratio


BODY = """strategy "Candles"
fee 0.05%
param k = 1 in 0..8 step 2
enter long when close > open * (1 + k / 10000)
exit long when close < open
"""


def test_walk_forward_out_of_sample_equals_a_plain_run_on_each_test_slice(tmp_path, capsys) -> None:
    """The rules read only the current bar, so a test window needs no warm-up: its result must be
    exactly a plain run on that slice of the data with the fold's chosen params."""
    data = tmp_path / "bars.csv"
    bars = pl.read_csv(EURUSD).head(1200)
    bars.write_csv(data)
    script = write_script(tmp_path, BODY, "optimize maximize total_return_pct validate walk_forward 3 folds")
    out = tmp_path / "out"
    assert main(["run", str(script), "--data", str(data), "--optimize", "--out", str(out)]) == 0
    report = capsys.readouterr().out
    assert "Validation (walk-forward, 3 folds, rolling)" in report
    folds = pl.read_csv(out / "folds.csv")
    assert folds["test_start"].to_list() == [300, 600, 900] and folds["train_start"].to_list() == [0, 300, 600]
    growth = 1.0
    for fold in folds.iter_rows(named=True):
        piece = tmp_path / f"fold{fold['fold']}.csv"
        bars.slice(fold["test_start"], fold["test_end"] - fold["test_start"]).write_csv(piece)
        sets = [a for k, v in json.loads(fold["params"]).items() for a in ("--set", f"{k}={v}")]
        assert main(["run", str(script), "--data", str(piece), *sets, "--json"]) == 0
        plain = json.loads(capsys.readouterr().out)["metrics"]["all"]
        assert plain["total_return_pct"] == fold["oos_total_return_pct"]
        growth *= 1 + plain["total_return_pct"] / 100
    stitched = pl.read_csv(out / "oos_equity.csv")
    assert stitched.height == 900
    assert stitched["equity"][-1] == pytest.approx(10_000 * growth, rel=1e-12)


def test_split_reports_in_sample_against_out_of_sample(small_csv, tmp_path, capsys) -> None:
    script = write_script(tmp_path, BODY, "optimize maximize sharpe validate split 60%")
    assert main(["run", str(script), "--data", str(small_csv), "--optimize", "--top", "3"]) == 0
    report = capsys.readouterr().out
    assert "OOS sharpe" in report and "decay" in report and "Validation (split 60% in-sample)" in report
    assert "bars 0..900" in report  # the search saw the in-sample bars only


def test_an_interrupted_split_shows_no_out_of_sample_anywhere(small_csv, tmp_path, capsys, monkeypatch) -> None:
    # Issue 11.13: the top table showed an OOS sharpe while the validation table said no test ran.
    from tradebot.optimize import command
    from tradebot.optimize.progress import Progress

    class CtrlCAfterOneBatch(Progress):
        def update(self, finished: int, best: float | None) -> None:
            super().update(finished, best)
            raise KeyboardInterrupt

    monkeypatch.setattr(command, "Progress", CtrlCAfterOneBatch)
    script = write_script(tmp_path, BODY, "optimize maximize sharpe validate split 60%")
    assert main(["run", str(script), "--data", str(small_csv), "--optimize", "--top", "3"]) == 130
    report = capsys.readouterr().out
    assert "interrupted: the results below cover the trials finished so far" in report
    assert "OOS sharpe  decay" not in report.split("Validation")[0]  # the top table has no OOS columns
    assert "stitched out-of-sample: no test window ran (the search was interrupted first)" in report
