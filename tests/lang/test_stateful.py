"""Stateful series (`x = ... x[1] ... starting v`): hand-worked values, the checker's messages,
and the VM's instruction set against its documentation (lang/stateful/)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
import numpy as np
import polars as pl
import pytest

from tradebot.lang import reference
from tradebot.lang.operators import OPERATORS
from tradebot.vm import interp as vm, opcodes
from tradebot.pipeline import compile_source

from .test_diagnostics import errors


def bars(close: list[float], open_: list[float] | None = None) -> pl.DataFrame:
    n = len(close)
    open_ = open_ or close
    start = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return pl.DataFrame({
        "timestamp": pl.Series([start + dt.timedelta(hours=i) for i in range(n)]).cast(pl.Datetime("ms", "UTC")),
        "open": open_, "high": [max(a, b) + 1 for a, b in zip(open_, close)],
        "low": [min(a, b) - 1 for a, b in zip(open_, close)], "close": close, "volume": [1.0] * n,
    })


def series(source: str, frame: pl.DataFrame, *names: str) -> dict[str, list]:
    strategy = compile_source(source + "\nenter long when close > 0\n", "s.tbs", series=names)
    out = strategy.plan.evaluate(frame)
    checked = {n: reference.evaluate(strategy.checked.series[n], {c: frame[c].to_numpy() for c in frame.columns})
               for n in names}
    for name in names:  # the compiled VM and the naive evaluator agree on every hand-worked case
        got = out[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        np.testing.assert_array_equal(got, checked[name], err_msg=name)
    return {n: out[n].to_list() for n in names}


def test_a_counter_that_resets() -> None:
    frame = bars([10, 11, 12, 11, 12, 13, 14, 14])
    source = "streak = if close > close[1] then streak[1] + 1 else 0 starting 0"
    # bar 0: close[1] is missing, so the formula has no value: the start value 0.
    assert series(source, frame, "streak")["streak"] == [0, 1, 2, 0, 1, 2, 3, 0]


def test_heikin_ashi_open_by_hand() -> None:
    frame = bars([11, 13, 12], open_=[9, 11, 13])
    source = ("ha_close = (open + high + low + close) / 4\n"
              "ha_open = (ha_open[1] + ha_close[1]) / 2 starting (open + close) / 2")
    # ha_close: (9+12+8+11)/4 = 10, (11+14+10+13)/4 = 12; ha_open: 10, (10+10)/2 = 10, (10+12)/2 = 11
    assert series(source, frame, "ha_open")["ha_open"] == [10.0, 10.0, 11.0]


def test_the_start_value_holds_until_the_formula_has_a_value() -> None:
    frame = bars([1, 2, 3, 4, 5, 6])
    source = "total = total[1] + sma(close, 3) starting 0"  # sma is missing on bars 0 and 1
    assert series(source, frame, "total")["total"] == [0, 0, 2, 5, 9, 14]


def test_an_expression_read_back_has_no_value_before_its_first_bar() -> None:
    """`(…)[n]` of a formula reading the recursion is missing on the first n bars, even where
    the formula itself would mend a missing value (nz): there is no bar to compute it on. The
    VM emits a guard for it (opcodes.FROM_BAR); it once took nz's fallback instead (found by
    test_compiler_reference.py's Hypothesis search)."""
    frame = bars([100, 100, 100])
    # bar 0: nothing one bar back: the start value; bar 1: nz(s[-1], 1) on bar 0 = 1; bar 2: s[0] = 100
    assert series("s = (abs(nz(s[1], 1)))[1] starting open", frame, "s")["s"] == [100, 1, 100]
    assert series("s = nz(s[1], 5)[2] + 0 starting open", frame, "s")["s"] == [100, 100, 5]


def test_mutual_recursion_through_history() -> None:
    frame = bars([1, 1, 1, 1, 1])
    source = "a = b[1] + 1\nb = a * 2 starting 0"
    # b: start 0 on bar 0 (a is missing there); a = b[1] + 1, b = 2a: a 1, 3, 7, 15 from bar 1
    out = series(source, frame, "a", "b")
    assert out["b"] == [0, 2, 6, 14, 30]
    assert out["a"] == [None, 1, 3, 7, 15]


def test_a_latch_is_a_condition() -> None:
    frame = bars([5, 6, 7, 6, 5, 4, 5], open_=[5, 5, 5, 5, 5, 5, 5])
    source = "on = if close >= 7 then true else if close <= 4 then false else on[1] starting false"
    assert series(source, frame, "on")["on"] == [False, False, True, True, True, False, False]


def test_a_running_high_that_resets_on_a_cross() -> None:
    frame = bars([1, 3, 2, 5, 4, 1, 2])
    source = "hh = if close crosses above 2.5 then close else max(hh[1], close) starting close"
    assert series(source, frame, "hh")["hh"] == [1, 3, 3, 5, 5, 5, 5]


def test_outside_its_recursion_a_stateful_series_is_an_ordinary_one() -> None:
    frame = bars([10, 11, 12, 11, 12, 13, 14, 14])
    source = ("streak = if close > close[1] then streak[1] + 1 else 0 starting 0\n"
              "avg = sma(streak, 2)\nrun = streak @ 2h")
    out = series(source, frame, "avg", "run")
    assert out["avg"] == [None, 0.5, 1.5, 1.0, 0.5, 1.5, 2.5, 1.5]


@pytest.mark.parametrize("source, message, hint, line, column", [
    ("a = a + 1", "circular definition: a → a", "`a[1]`", 1, 5),
    ("a = b\nb = a", "circular definition: a → b → a", "starting 0", 2, 5),
    ("a = a[1] + 1", "`a` reads its own past, so it needs a start value", "starting VALUE", 1, 5),
    ("a = b[1]\nb = a * 2 starting 0\nc = c[2]", "`c` reads its own past", "end line 3", 3, 5),
    ("x = close starting 0", "`x` does not read its own past", "remove `starting", 1, 20),
    ("x = sma(x[1], 3) + 1 starting 0", "`sma(...)` cannot read `x` inside its own recursion",
     "in another definition", 1, 5),
    ("x = if x[1] then 1 else 0 starting true", "`x` starts as a condition but its formula gives a number",
     "start a number with a number", 1, 36),
    ("x = x[1] + 1 starting close > open", "`+` needs a number, got a bool series", None, 1, 5),
    ("x = x[1] + 1 starting x", "the start value of `x` cannot read `x`", "starting close", 1, 23),
    ("x = x[1] + 1 starting \"a\"", "a start value is a number or a condition", None, 1, 23),
])
def test_errors_point_at_the_mistake(source: str, message: str, hint: str | None, line: int, column: int) -> None:
    diags = errors(source + "\nenter long when close > open\n").diagnostics
    match = [d for d in diags if message in d.message]
    assert match, [d.message for d in diags]
    assert (match[0].span.line, match[0].span.column) == (line, column)
    if hint:
        assert hint in (match[0].hint or ""), match[0].hint


def test_every_mistake_at_once() -> None:
    source = ("a = a + 1\nb = b[1] + 1\nc = sma(c[1], 2) starting 0\nd = close starting 1\n"
              "e = e[1] + nope starting 0\nenter long when close > open\n")
    diags = errors(source).diagnostics
    assert [d.span.line for d in diags] == [1, 2, 3, 4, 5], [d.message for d in diags]


VALUES = (np.nan, 0.0, 1.0, -2.0, 0.5)
BINARY = {opcodes.ADD: "+", opcodes.SUB: "-", opcodes.MUL: "*", opcodes.DIV: "/", opcodes.POW: "^",
          opcodes.LT: "<", opcodes.LE: "<=", opcodes.GT: ">", opcodes.GE: ">=", opcodes.EQ: "==",
          opcodes.NE: "!=", opcodes.AND: "and", opcodes.OR: "or"}
FUNCTIONS = {opcodes.MIN: "min", opcodes.MAX: "max", opcodes.NZ: "nz", opcodes.ABS: "abs",
             opcodes.SQRT: "sqrt", opcodes.LOG: "log", opcodes.EXP: "exp", opcodes.SIGN: "sign",
             opcodes.CLIP: "clip"}


def run_op(op: int, *values: float, fused: bool = False) -> float:
    """`op` on constants; `fused`: with its right operand folded in (opcodes.FUSED)."""
    code = [x for i in range(len(values)) for x in (opcodes.CONST, i, 0)] + [op, 0, 0]
    if fused:
        code[-6:] = [op + opcodes.FUSED * opcodes.FUSABLE[opcodes.CONST], len(values) - 1, 0]
    segments = np.array([[0, 0, len(code), len(code), len(code)]], dtype=np.int64)
    out = vm.run(np.array(code, dtype=np.int64), np.array(values, dtype=float), np.zeros((1, 1)),
                 segments, 1, 1, len(values))
    return float(out[0, 0])


def same(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or a == b


@pytest.mark.parametrize("op", sorted(BINARY))
def test_vm_operators_follow_the_reference_rules(op: int) -> None:
    """Every instruction against the reference evaluator's rules, missing values included (the
    conditions' three-valued logic uses only 0, 1 and missing)."""
    fn = OPERATORS[BINARY[op]].reference
    logic = BINARY[op] in ("and", "or")
    for a in (VALUES[:3] if logic else VALUES):
        for b in (VALUES[:3] if logic else VALUES):
            assert same(run_op(op, a, b), fn(a, b)), (BINARY[op], a, b)
            assert same(run_op(op, a, b, fused=True), fn(a, b)), (BINARY[op], a, b, "fused")


@pytest.mark.parametrize("op", sorted(FUNCTIONS))
def test_vm_functions_follow_the_registry_references(op: int) -> None:
    from tradebot.lang.builtins import REGISTRY

    builtin = REGISTRY[FUNCTIONS[op]]
    arity = len(builtin.params)
    for values in np.array(np.meshgrid(*[VALUES] * arity)).T.reshape(-1, arity):
        expected = float(np.asarray(builtin.reference(*(np.array([v]) for v in values)))[0])
        assert same(run_op(op, *values), expected), (FUNCTIONS[op], values)


def test_vm_unary_and_if() -> None:
    for a in VALUES:
        assert same(run_op(opcodes.NEG, a), OPERATORS["neg"].reference(a))
    for a in VALUES[:3]:
        assert same(run_op(opcodes.NOT, a), OPERATORS["not"].reference(a))
        assert same(run_op(opcodes.IF, a, 5.0, 7.0), OPERATORS["if"].reference(a, 5.0, 7.0))


def test_a_ring_slot_is_the_bar_modulo_the_width_whatever_the_width() -> None:
    """The engine's rings are a power of two wide (a mask); a paper session saved before that
    resumes with its own width (a division): both are t mod width."""
    for width in range(1, 12):
        assert [vm.ring_cell(t, width) for t in range(40)] == [t % width for t in range(40)]
    assert [vm.ring_cell(t, 1_000) for t in range(40)] == list(range(40))  # every bar: the bar itself


def test_the_vm_is_compiled_once_per_installation_not_per_script(tmp_path) -> None:
    """A second script with other recursions runs the cached VM: numba adds no compiled code."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    code = ("import sys\nfrom tradebot.pipeline import compile_source, load_bars\n"
            "bars = load_bars('data/EURUSD_1h.csv').head(50)\n"
            "compile_source(sys.argv[1], 's.tbs').plan.evaluate(bars)\n")

    def run(source: str) -> list[str]:
        done = subprocess.run([sys.executable, "-c", code, source], capture_output=True, text=True,
                              timeout=600, env=env, cwd=Path(__file__).resolve().parents[2])
        assert done.returncode == 0, done.stderr
        return sorted(p.name for p in (tmp_path / "cache").rglob("*interp*.nb*"))

    first = run("streak = if close > close[1] then streak[1] + 1 else 0 starting 0\nenter long when streak > 1")
    assert first, "the VM was compiled and cached"
    assert run("a = b[2] * 0.5 + abs(close - open)\nb = max(a, b[1]) starting close\n"
               "on = if close > b then true else on[1] and not (close < a) starting false\nenter long when on") == first


def test_the_stateful_heikin_ashi_equals_the_builtin(eurusd_path) -> None:
    """examples/heikin_ashi_stateful.tbs writes Heikin-Ashi out as recursions; the `heikinashi()`
    builtin (examples/heikin_ashi.tbs) computes it in its own kernel: the same candles."""
    from tradebot.pipeline import load_bars

    frame = load_bars(eurusd_path)
    source = ("ha = heikinashi()\nha_close = (open + high + low + close) / 4\n"
              "ha_open = (ha_open[1] + ha_close[1]) / 2 starting (open + close) / 2\n"
              "b_open = ha.open\nb_close = ha.close\nenter long when ha_close > ha_open\n")
    out = compile_source(source, "ha.tbs", series=["ha_open", "ha_close", "b_open", "b_close"]).plan.evaluate(frame)
    np.testing.assert_allclose(out["ha_open"].to_numpy(), out["b_open"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(out["ha_close"].to_numpy(), out["b_close"].to_numpy(), rtol=1e-12)


# ---------------------------------------------------------------- a member's value while flat

@pytest.mark.parametrize("formula, flat", [
    ("if position_side != 0 then held[1] + 1 else 0", 0.0),  # the branch reading the past is not taken
    ("if position_size > 0 then held[1] + 1 else -1", -1.0),
    ("if open_entries == 0 or held[1] > close then 2 * 3 else held[1]", 6.0),  # `or`: true wins
    ("if position_side == 0 and close > open then 1 else held[1]", None),  # `and`: true and unknown
    ("if position_side == 0 then 1 else 0 + held[1]", 1.0),
    ("if bars_since_exit > 3 then held[1] + 1 else 0", None),  # changes while flat
    ("if position_side != 0 then held[1] + 1 else entry_price", None),  # missing while flat
    ("if position_side != 0 then held[1] + 1 else abs(-2)", 2.0),  # a constant call folds at check time
    ("if position_side != 0 then held[1] + 1 else max(held[1], 0)", None),  # a function of the past
    ("if position_side != 0 then held[1] + 1 else close", None),  # an input column
    ("held[1] * 0 + position_size", None),  # the past is never known (missing * 0 is missing)
])
def test_a_members_value_on_a_flat_bar(formula, flat):
    """Hand-worked from docs/language.md's rules: the registers while flat are side 0, size 0, no
    entry (missing), no open entries; a comparison with missing is missing."""
    from tradebot.pipeline import position_program

    source = f"held = {formula} starting 0\nexit long when held > 3\nenter long when close > open\n"
    program = position_program(compile_source(source, "s.tbs").checked)
    value = program.flat[program.bytecode.names.index("held")]
    assert (np.isnan(value) if flat is None else value == flat), (formula, value)
