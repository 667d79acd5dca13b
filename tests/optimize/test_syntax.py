"""The `optimize` statement: parsing, canonical text, and every error the checker reports."""
from __future__ import annotations

import pytest

from tradebot.lang import ast, statements
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.optimize_check import OptimizeSpec, Validation
from tradebot.lang.parser import parse_program
from tradebot.pipeline import OBJECTIVES, compile_source

from .conftest import RSI

ROUND_TRIPS = [
    "optimize maximize sharpe",
    "optimize minimize max_drawdown_pct by grid min_trades 10",
    "optimize maximize sharpe by bayes trials 200 seed 7 where lower < upper validate walk_forward 5 folds rolling",
    "optimize maximize sortino by random trials 50 where lower + 30 <= upper and length != 10 validate split 70%",
    "optimize maximize calmar validate walk_forward 3 folds",
    "optimize maximize sharpe where not lower > 25 where if length > 10 then upper > 60 else true",
]


@pytest.mark.parametrize("text", ROUND_TRIPS)
def test_canonical_text_parses_back_to_the_same_tree(text: str) -> None:
    tree = parse_program(text + "\n")
    assert statements.program(tree) == text + "\n"
    assert parse_program(statements.program(tree)) == tree


def test_indented_lines_continue_the_statement() -> None:
    one_line = parse_program(ROUND_TRIPS[2] + "\n")
    laid_out = parse_program("optimize maximize sharpe by bayes trials 200 seed 7\n"
                             "  where lower < upper\n"
                             "  validate walk_forward 5 folds rolling   # comment\n")
    assert laid_out == one_line


def test_clause_words_stay_usable_as_names_but_optimize_is_reserved() -> None:
    tree = parse_program("by = 1\ntrials = by + 1\nwhere = trials\nseed = where\n")
    assert [s.name for s in tree.statements] == ["by", "trials", "where", "seed"]
    with pytest.raises(ScriptDiagnostics, match="reserved word"):
        parse_program("x = optimize + 1\n")


def checked_spec(optimize: str) -> OptimizeSpec | None:
    return compile_source(RSI + optimize + "\n", "rsi.tbs").checked.optimize


def test_the_spec_holds_every_clause_with_defaults() -> None:
    spec = checked_spec("optimize maximize sharpe by random trials 50 seed 7 min_trades 3\n"
                        "  where lower < upper\n  validate walk_forward 4 folds anchored")
    assert (spec.goal, spec.objective, spec.method, spec.trials, spec.seed, spec.min_trades) == \
        ("maximize", "sharpe", "random", 50, 7, 3)
    assert spec.validation == Validation("walk_forward", folds=4, anchored=True)
    assert len(spec.where) == 1 and isinstance(spec.where[0], ast.Binary)
    plain = checked_spec("optimize minimize max_drawdown_pct")
    assert (plain.method, plain.trials, plain.seed, plain.min_trades, plain.validation) == ("grid", None, 0, 0, None)
    assert checked_spec("optimize maximize sharpe by bayes").trials == 100
    assert checked_spec("optimize maximize sharpe validate split 70%").validation == \
        Validation("split", train_fraction=0.7)
    assert compile_source(RSI, "rsi.tbs").checked.optimize is None


def errors_of(optimize: str, body: str = RSI) -> list[tuple[str, int, int, str | None]]:
    source = body + optimize + "\n"
    with pytest.raises(ScriptDiagnostics) as info:
        compile_source(source, "rsi.tbs")
    return [(d.message, d.span.line, d.span.column, d.hint) for d in info.value.diagnostics]


LINE = RSI.count("\n") + 1  # the line the optimize statement starts on


@pytest.mark.parametrize("optimize, message, column, hint", [
    ("optimize maximize sharp", "unknown metric `sharp` to maximize", 19, "did you mean `sharpe`?"),
    ("optimize maximize cagr", "unknown metric `cagr` to maximize", 19, "did you mean `cagr_pct` or `calmar`?"),
    ("optimize maximize sharpe by bayse", "unknown search method `bayse`", 29, "did you mean `bayes`?"),
    ("optimize maximize sharpe trials 20", "`trials` is for `by random` and `by bayes`; a grid tries every "
     "combination", 26, "remove `trials`, or search `by random`"),
    ("optimize maximize sharpe by random trials 0", "`trials` takes a positive whole number", 36, None),
    ("optimize maximize sharpe by random trials 2.5", "`trials` takes a positive whole number", 36, None),
    ("optimize maximize sharpe seed 1 seed 2", "`seed` is given twice", 33, None),
    ("optimize maximize sharpe where lenght < upper", "a `where` condition can only use params; `lenght` is not "
     "a param", 32, "did you mean `length`?"),
    ("optimize maximize sharpe where close > lower", "a `where` condition can only use params; `close` is not "
     "a param", 32, "conditions on the data belong in the rules"),
    ("optimize maximize sharpe where r > lower", "a `where` condition can only use params; `r` is not a param",
     32, "conditions on the data belong in the rules"),
    ("optimize maximize sharpe where sma(lower, 2) > 1", "a `where` condition is arithmetic, comparisons and "
     "logic on params", 32, "for example `where fast < slow`"),
    ("optimize maximize sharpe where lower + upper", "a `where` condition must be true or false", 32,
     "compare params, for example `where fast < slow`"),
    ("optimize maximize sharpe validate split 5 folds", "`validate split` takes the in-sample share as a percentage "
     "between 0% and 100%", 26, "for example `validate split 70%`"),
    ("optimize maximize sharpe validate split 100%", "`validate split` takes the in-sample share as a "
     "percentage between 0% and 100%", 26, "for example `validate split 70%`"),
    ("optimize maximize sharpe validate walk_forward 1 folds", "`validate walk_forward` takes a whole number of "
     "folds, at least 2", 26, "for example `validate walk_forward 5 folds`"),
    ("optimize maximize sharpe validate walkforward 3 folds", "unknown validation `walkforward`", 35,
     "did you mean `walk_forward`?"),
    ("optimize maximize sharpe validate walk_forward 3 folds rolled", "unknown walk-forward mode `rolled`", 56,
     "did you mean `rolling`?"),
])
def test_each_mistake_is_reported_at_its_span(optimize: str, message: str, column: int, hint: str | None) -> None:
    errors = errors_of(optimize)
    assert len(errors) == 1, errors
    got_message, line, got_column, got_hint = errors[0]
    assert (got_message, line, got_column) == (message, LINE, column)
    if hint is not None:
        assert got_hint == hint


def test_two_optimize_statements_and_nothing_to_search_are_errors() -> None:
    assert errors_of("optimize maximize sharpe\noptimize minimize sharpe")[0][:2] == \
        ("a script has at most one `optimize` statement", LINE + 1)
    body = "param n = 14\nenter long when rsi(close, n) < 30\n"
    assert errors_of("optimize maximize sharpe", body=body)[0][0] == \
        "nothing to optimize: no param declares a range or choices"


def test_every_objective_is_a_metric_of_a_run() -> None:
    """The objectives offered are exactly the metrics a plain run reports (runtime.report), and
    a portfolio run's own (runtime.portfolio_report)."""
    from tradebot.runtime.portfolio_report import PORTFOLIO_ROWS
    from tradebot.runtime.report import METRIC_ROWS

    assert set(OBJECTIVES) == {key for key, _, _ in (*METRIC_ROWS, *PORTFOLIO_ROWS)}
    assert {"sharpe", "sortino", "calmar", "cagr_pct", "profit_factor", "max_drawdown_pct"} <= set(OBJECTIVES)


def test_a_plain_run_of_a_script_with_optimize_ignores_it(small_csv) -> None:
    from tradebot.pipeline import backtest, load_bars

    bars = load_bars(small_csv)
    with_block = compile_source(RSI + "optimize maximize sharpe where lower < upper\n", "a.tbs")
    without = compile_source(RSI, "b.tbs")
    assert backtest(with_block, bars).metrics == backtest(without, bars).metrics


def test_optimization_flags_need_optimize(tmp_path, capsys) -> None:
    from tradebot.cli import main

    script = tmp_path / "rsi.tbs"
    script.write_text(RSI, encoding="utf-8")
    assert main(["run", str(script), "--jobs", "2"]) == 2
    assert "--jobs only applies with --optimize" in capsys.readouterr().err
    assert main(["run", str(script), "--optimize"]) == 2
    assert "has no `optimize` statement" in capsys.readouterr().err
