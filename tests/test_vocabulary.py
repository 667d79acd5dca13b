"""The execution vocabulary is one list each (tradebot/market/vocab.py): the language offers the
words the runtime accepts, the kernel's codes follow their order, and every value a script may
write runs, costs doubled by the optimizer's stress re-run included."""
from __future__ import annotations

import dataclasses

import pytest

from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.settings import SETTINGS
from tradebot.market import vocab
from tradebot.optimize.review import COST_FACTOR
from tradebot.pipeline import compile_source, execution_config
from tradebot.runtime import kernel
from tradebot.runtime.execution import EntryOrder, ExecutionConfig, Level, Sizing

ENTRY = "enter long when close > open\n"


@pytest.mark.parametrize(("words", "prefix"), [(vocab.FILL_POLICIES, "F_"), (vocab.SIZING_MODES, "S_")])
def test_the_kernel_codes_follow_the_vocabulary_order(words: tuple[str, ...], prefix: str) -> None:
    codes = [getattr(kernel, prefix + word.upper()) for word in words]
    assert codes == list(range(len(words)))


def test_the_language_offers_exactly_the_runtime_words() -> None:
    assert SETTINGS["fill"].choices == vocab.FILL_POLICIES
    assert {form.tag for form in SETTINGS["size"].forms} == set(vocab.SIZING_MODES)
    for policy in vocab.FILL_POLICIES:
        ExecutionConfig(fill=policy)
    for mode in vocab.SIZING_MODES:
        Sizing(mode, 0.5)
    for mode in vocab.LEVEL_MODES:
        Level(mode, 0.01)
    assert {EntryOrder(kind, None if kind == "market" else 1.0).kind for kind in vocab.ORDER_KINDS} \
        == set(vocab.ORDER_KINDS)


@pytest.mark.parametrize(("setting", "key", "limit"), [
    ("fee", "fee", vocab.MAX_FEE), ("slippage", "slippage", vocab.MAX_SLIPPAGE),
    ("spread", "spread", vocab.MAX_SLIPPAGE)])
def test_the_largest_cost_a_script_may_write_runs_even_doubled(setting: str, key: str, limit: float) -> None:
    checked = compile_source(f"{setting} {limit * 100:g}%\n{ENTRY}", "max.tbs").checked
    config = execution_config(checked)
    assert getattr(config, key) == pytest.approx(limit)
    stressed = dataclasses.replace(config, **{key: getattr(config, key) * COST_FACTOR})
    assert getattr(stressed, key) == pytest.approx(limit * 2)
    with pytest.raises(ScriptDiagnostics, match="at most"):
        compile_source(f"{setting} {limit * 100 + 0.01:g}%\n{ENTRY}", "over.tbs")
    with pytest.raises(ValueError, match=key):
        dataclasses.replace(config, **{key: limit * COST_FACTOR * 1.001})


def test_the_largest_leverage_and_pyramiding_a_script_may_write_run() -> None:
    source = f"leverage {vocab.MAX_LEVERAGE:g}\npyramiding {vocab.MAX_PYRAMIDING}\n{ENTRY}"
    config = execution_config(compile_source(source, "max.tbs").checked)
    assert (config.leverage, config.pyramiding) == (vocab.MAX_LEVERAGE, vocab.MAX_PYRAMIDING)
    for setting, value in (("leverage", vocab.MAX_LEVERAGE + 1), ("pyramiding", vocab.MAX_PYRAMIDING + 1)):
        with pytest.raises(ScriptDiagnostics, match="at most"):
            compile_source(f"{setting} {value:g}\n{ENTRY}", "over.tbs")
