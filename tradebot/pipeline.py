"""The application pipeline shared by `tradebot run`, `check`, `eval`, the REPL and the optimizer:

    script file → source → AST → checked program → Polars plan      (tradebot.lang)
    data file   → validated bars                                    (tradebot.data)
    plan + bars → signals → engine → result                         (tradebot.runtime)

Each stage only consumes the previous one's output; nothing here reaches back upstream.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from .arrays import booleans
from .config import Config
from .data.access import refusal, script_data_roots
from .data.loader import load_ohlcv
from .errors import UsageError, UserError
from .lang.checker import SIGNALS, CheckedProgram, check_source
from .lang import ast, ir
from .lang.compiler import Plan, compile_nodes, compile_program
from .lang.data_fit import data_diagnostics
from .lang.diagnostics import Diagnostic, ScriptDiagnostics
from .lang.explain import risk_as_written, rule_conditions, written
from .lang.param_check import OverrideError
from .lang.parser import without_bom
from .lang.stateful.position import PositionProgram, compile_position, reads_position
from .lang.types import BOOL_CONST, NUMBER_CONST
from .runtime.engine import BacktestResult, run_backtest
from .runtime.execution import EntryOrder, ExecutionConfig, Level, Rung, SideRules, Sizing
from .runtime.metrics import METRICS, PORTFOLIO_METRICS
from .runtime.program import RuleProgram
from .runtime.report import RuleCount, format_summary, price_decimals
from .runtime.signals import Signals

log = logging.getLogger(__name__)

BUNDLED_DATA = "EURUSD_1h.csv"
# The metrics an `optimize` statement may maximize or minimize (the language cannot import them).
# A portfolio's own metrics are objectives too; a one-symbol sweep refuses them (optimize/command.py).
PORTFOLIO_OBJECTIVES = tuple(metric.key for metric in PORTFOLIO_METRICS)
OBJECTIVES = tuple(metric.key for metric in METRICS) + PORTFOLIO_OBJECTIVES


@dataclass(frozen=True)
class Strategy:
    """A compiled script: what it says (checked) and how to compute it (plan)."""

    checked: CheckedProgram
    plan: Plan
    path: Path | None

    @property
    def title(self) -> str:
        return self.checked.name or (self.path.stem if self.path else "strategy")

    def execution(self) -> ExecutionConfig:
        return execution_config(self.checked)


def execution_config(checked: CheckedProgram) -> ExecutionConfig:
    """The engine's configuration from a script's settings and risk rules. A risk value that is a
    series is referred to by its engine-node name (`long.stop_loss`); its values come from the
    plan's output frame (`engine_nodes`, `backtest_from_frame`)."""
    s = checked.settings
    tick = s["tick_size"] or 0.0  # the checker requires it whenever a value is in ticks
    mode, amount = s["size"]
    return ExecutionConfig(
        s["capital"], s["fee"], s["slippage"], fee_per_order=s["fee_per_order"],
        slippage_price=s["slippage_ticks"] * tick, spread=s["spread"],
        spread_price=s["spread_ticks"] * tick, fill=s["fill"],
        sizing=Sizing(mode, amount, s["min_qty"], s["qty_step"]), leverage=s["leverage"],
        pyramiding=s["pyramiding"], long=_side_rules(checked, "long"), short=_side_rules(checked, "short"))


def _side_rules(checked: CheckedProgram, side: str) -> SideRules:
    risk = checked.risk.side(side)
    levels = {name: Level(level.mode, _engine_value(level.value, f"{side}.{name}"))
              for name, level in risk.levels.items()}
    entry = EntryOrder()
    if risk.entry is not None:
        entry = EntryOrder(risk.entry.kind, _engine_value(risk.entry.price, f"{side}.entry"),
                           risk.entry.expire)
    portion = None if risk.exit_portion is None else _engine_value(risk.exit_portion, f"{side}.exit_portion")
    ladder = tuple(Rung(Level(r.level.mode, _engine_value(r.level.value, "")), r.portion) for r in risk.ladder)
    return SideRules(**levels, exit_after=risk.exit_after, entry=entry, exit_portion=portion, ladder=ladder)


def _engine_value(node: ir.Node, name: str) -> float | str:
    """A constant's value, or the engine-node name under which the series is computed."""
    return float(node.value) if isinstance(node, ir.Const) else name  # type: ignore[arg-type]


def engine_nodes(checked: CheckedProgram) -> dict[str, ir.Node]:
    """Everything the plan computes for the engine, as IR by name: the four signals, then every
    risk value that is a series (`long.stop_loss`, `short.take_profit`, `long.entry`, ...;
    constants travel in `execution_config`). The optimizer compiles many programs' engine nodes
    into one plan. What reads position state is computed in the run (`position_program`): its
    signals are true here (a gate the run ANDs with the program's value), its levels missing,
    and its program's inputs follow (`pos.0`, ...)."""
    return engine_inputs(checked).nodes


@dataclass(frozen=True)
class EngineInputs:
    """A program's `engine_nodes` and `position_program`, computed together once (a sweep needs
    both of every combination several times: grouping, the plan, the signals, the run)."""

    nodes: dict[str, ir.Node]
    program: PositionProgram | None

    @property
    def levels(self) -> list[str]:
        """The per-bar risk levels among `nodes` (`long.stop_loss`, ...)."""
        return [name for name in self.nodes if name not in SIGNALS and not name.startswith(PROGRAM_INPUT)]


def engine_inputs(checked: CheckedProgram) -> EngineInputs:
    nodes = _engine_values(checked)
    program = compile_position(nodes)
    if program is None:
        return EngineInputs(nodes, None)
    for name in program.outputs:  # a signal's column gates the program's (paper warm-up masks it)
        nodes[name] = _GATE if name in SIGNALS else _NO_LEVEL
    nodes.update({f"{PROGRAM_INPUT}{i}": node for i, node in enumerate(program.inputs)})
    return EngineInputs(nodes, program)


PROGRAM_INPUT = "pos."
_GATE = ir.Const(True, BOOL_CONST)
_NO_LEVEL = ir.Const(float("nan"), NUMBER_CONST)


def position_program(checked: CheckedProgram) -> PositionProgram | None:
    """The rules and risk values of `checked` that read position state, compiled for the engine."""
    return compile_position(_engine_values(checked))


def rule_program(program: PositionProgram | None, frame: pl.DataFrame | None,
                 prefix: str = "") -> RuleProgram | None:
    """`program` for the runtime, its inputs read from a plan's output `frame` (None: given bar
    by bar later, runtime.stepper)."""
    if program is None:
        return None
    if frame is None or not program.inputs:
        inputs = np.zeros((len(program.inputs), 0 if frame is None else frame.height))
    else:  # one copy, Polars' own: a column-major (bars, columns) matrix is (columns, bars) in C order,
        # and a missing float becomes NaN in that copy (no filled copy of each column first)
        columns = [pl.col(f"{prefix}{PROGRAM_INPUT}{i}").cast(pl.Float64) for i in range(len(program.inputs))]
        inputs = frame.select(columns).to_numpy(order="fortran").T
    code = program.bytecode
    return RuleProgram(code.code, code.consts, code.segments, code.stack_size, len(code.names),
                       program.width, dict(program.outputs), program.tracks, inputs, program.flat)


def _engine_values(checked: CheckedProgram) -> dict[str, ir.Node]:
    nodes = {name: checked.signals[name] for name in SIGNALS}
    for side in ("long", "short"):
        risk = checked.risk.side(side)
        values = {name: level.value for name, level in risk.levels.items()}
        if risk.entry is not None:
            values["entry"] = risk.entry.price
        if risk.exit_portion is not None:
            values["exit_portion"] = risk.exit_portion
        nodes.update({f"{side}.{name}": node for name, node in values.items()
                      if not isinstance(node, ir.Const)})
    return nodes


def compile_engine_plan(programs: Sequence[CheckedProgram], *, precomputed: Mapping[ir.Node, str] | None = None,
                        keep: Mapping[str, ir.Node] | None = None) -> Plan:
    """One plan computing the engine inputs of several programs (outputs prefixed `i.`): an
    indicator the programs share is computed once (the compiler dedupes equal IR). `precomputed`:
    nodes the bars already hold as columns (`compile_nodes`); `keep`: more outputs, by name (the
    indicators a sweep keeps for its next batches)."""
    return engine_plan([engine_inputs(checked) for checked in programs], precomputed=precomputed, keep=keep)


def engine_plan(inputs: Sequence[EngineInputs], *, precomputed: Mapping[ir.Node, str] | None = None,
                keep: Mapping[str, ir.Node] | None = None) -> Plan:
    """`compile_engine_plan` of programs' `engine_inputs`."""
    nodes = {f"{i}.{name}": node for i, engine in enumerate(inputs)
             for name, node in engine.nodes.items() if not _constant_signal(name, node)}
    plan = compile_nodes({**nodes, **(keep or {})}, precomputed=precomputed)
    # Missing signals are false, filled in the plan's own (parallel) pass rather than per column.
    return replace(plan, outputs={name: expr.fill_null(_FALSE) if name.split(".", 1)[-1] in SIGNALS else expr
                                  for name, expr in plan.outputs.items()})


_FALSE = pl.lit(False)  # `fill_null(False)`'s literal, made once: a sweep's plans fill thousands of signals


def _constant_signal(name: str, node: ir.Node) -> bool:
    """A signal that is one value on every bar (a script without exit rules: `exit_long` is false),
    which `engine_signals` makes without a plan column (two of four columns in many sweeps)."""
    return name in SIGNALS and isinstance(node, ir.Const)


def backtest_from_frame(checked: CheckedProgram, bars: pl.DataFrame, frame: pl.DataFrame, *,
                        prefix: str = "") -> BacktestResult:
    """Run the engine on inputs already computed by a plan (`frame` columns `prefix + name`)."""
    if bars.height < 2:
        raise UserError("the data has fewer than 2 bars: nothing can be traded")
    return run_backtest(bars, engine_signals(checked, frame, prefix=prefix), execution_config(checked),
                        rule_program(position_program(checked), frame, prefix))


def level_names(checked: CheckedProgram) -> list[str]:
    """The engine's per-bar risk levels among `engine_nodes` (`long.stop_loss`, ...)."""
    return engine_inputs(checked).levels


def engine_signals(checked: CheckedProgram, frame: pl.DataFrame, *, prefix: str = "",
                   inputs: EngineInputs | None = None) -> Signals:
    """The engine's inputs (`engine_nodes`) from the columns a plan computed (`prefix + name`);
    `inputs`: `checked`'s `engine_inputs` when the caller has them."""
    engine = inputs or engine_inputs(checked)
    nodes = engine.nodes
    # A constant signal the plan left out (`compile_engine_plan`) is made here; one it computed is
    # read, since the caller may have changed it (a paper session's warm-up turns every signal off).
    flags = {name: _flags(frame[prefix + name]) if prefix + name in frame or not _constant_signal(name, nodes[name])
             else np.full(frame.height, bool(nodes[name].value)) for name in SIGNALS}  # type: ignore[attr-defined]
    return Signals(**flags, levels={name: frame[prefix + name].cast(pl.Float64).to_numpy() for name in engine.levels})


def _flags(column: pl.Series) -> np.ndarray:
    """A signal column as booleans, missing as false (the fill only when something is missing:
    it costs a Polars pass, a sweep's signals rarely need it)."""
    return booleans(column.fill_null(False) if column.null_count() else column)


def read_script(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # -sig: drops the BOM Windows Notepad writes
    except FileNotFoundError:
        raise UsageError(f"{path}: no such script") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the script: {exc}") from None


def compile_source(source: str, filename: str, *, overrides: Mapping[str, float | bool | str] | None = None,
                   series: Iterable[str] = (), path: Path | None = None) -> Strategy:
    """Parse, check and compile a script's text (ScriptDiagnostics on any error)."""
    source = without_bom(source)
    try:
        checked = check_source(source, filename, overrides=overrides, objectives=OBJECTIVES)
    except OverrideError as exc:
        raise UsageError(str(exc)) from None
    return Strategy(checked, strategy_plan(checked, series), path)


def strategy_plan(checked: CheckedProgram, series: Iterable[str] = (),
                  extra: Mapping[str, ir.Node] | None = None) -> Plan:
    """One plan for the named series asked for and every engine input (`engine_nodes`): the
    signals as `compile_program` gives them (missing → false) plus the risk series, plus any
    `extra` outputs (computed in the same pass, sharing its indicators)."""
    nodes = engine_nodes(checked)
    if set(nodes) == set(SIGNALS) and not extra and position_program(checked) is None:
        return compile_program(checked, series=series)
    combined = compile_nodes({**{name: checked.series[name] for name in series}, **(extra or {}), **nodes},
                             source=checked.filename, text=checked.source)
    return replace(combined, outputs={name: expr.fill_null(False) if name in SIGNALS else expr
                                      for name, expr in combined.outputs.items()})


def load_strategy(path: Path, *, overrides: Mapping[str, float | bool | str] | None = None,
                  series: Iterable[str] = ()) -> Strategy:
    return compile_source(read_script(path), str(path), overrides=overrides, series=series, path=path)


def bundled_data_path() -> Path:
    """The EUR/USD hourly sample shipped with tradebot (inside the wheel, or the repo's data/)."""
    return Path(str(resources.files("tradebot.bundled").joinpath(BUNDLED_DATA)))


def data_path(strategy: Strategy | None, *, flag: str | None, config: Config) -> Path:
    """Which data to run on: --data, else the script's `data` line (relative to the script),
    else `[run] data` in tradebot.toml / TRADEBOT_RUN_DATA, else the bundled data set."""
    if flag:
        return Path(flag)
    if strategy and is_portfolio(strategy):  # only `tradebot run` trades a universe
        raise setting_error(strategy.checked, "universe", "this command reads one symbol's data, "
                             "and the script trades a universe", "run it with `tradebot run`, "
                             "or pass one symbol's file with --data")
    declared = strategy.checked.settings.get("data") if strategy else None
    if declared:
        base = strategy.path.parent if strategy and strategy.path else Path.cwd()
        roots = script_data_roots(base, config, bundled_data_path().parent)
        why = refusal(base / declared, roots)
        if why:  # a script is untrusted: docs/security.md
            raise setting_error(strategy.checked, "data", f"cannot read `{declared}`: {why}",
                                 "pass the file with --data, or move it under the script's folder")
        return base / declared
    configured = config.get("run", "data")
    return Path(configured) if configured else bundled_data_path()


def setting_error(checked: CheckedProgram, name: str, message: str, hint: str) -> ScriptDiagnostics:
    """A script error pointing at the value of setting `name`."""
    span = next((s.value.span for s in checked.program.statements
                 if isinstance(s, ast.Setting) and s.name == name), checked.program.span)
    return ScriptDiagnostics([Diagnostic(message, span, hint)], checked.source, checked.filename)


def load_bars(path: Path, *, cache_dir: Path | None = None) -> pl.DataFrame:
    """The bars of `path` (at least 2); `cache_dir`: reuse the validated frame while the file's
    content is unchanged (tradebot/data/cache.py)."""
    log.debug("loading %s", path)
    return load_ohlcv(path, min_rows=2, cache_dir=cache_dir)


def require_volume(strategy: Strategy, bars: pl.DataFrame) -> None:
    """Data without volume (a file with no volume column loads with volume missing throughout)
    cannot feed a script that reads it: say where the script reads it, rather than compute
    missing values."""
    if bars.height == 0 or bars["volume"].null_count() < bars.height:
        return
    checked = strategy.checked
    reads = [node for node in ir.walk(*engine_nodes(checked).values(), *checked.series.values())
             if isinstance(node, ir.Call) and node.name == "volume"]
    if not reads:
        return
    span = min((node.span for node in reads), key=lambda span: span.start)
    text = " ".join(checked.source[span.start:span.end].split())
    shown = text if len(text) <= 40 else text[:39] + "…"
    what = "the script reads `volume`" if text == "volume" else f"`{shown}` reads volume"
    raise ScriptDiagnostics([Diagnostic(
        f"{what}, but the data has no volume column", span,
        "run it on data with volume (docs/data.md lists the formats read)")],
        checked.source, checked.filename)


def check_data(strategy: Strategy, bars: pl.DataFrame) -> list[Diagnostic]:
    """The script against the data before a run: raise its errors (ScriptDiagnostics, with the
    script's line and caret), return its warnings."""
    found = data_diagnostics(strategy.checked, bars)
    errors = [d for d in found if d.severity == "error"]
    if errors:
        raise ScriptDiagnostics(errors, strategy.checked.source, strategy.checked.filename)
    return [d for d in found if d.severity != "error"]


def backtest_counting_rules(strategy: Strategy, bars: pl.DataFrame) -> tuple[BacktestResult, list[RuleCount]]:
    """`backtest`, and on how many bars each rule's condition held (one pass computes both), so a
    run without trades can say which rule never fired."""
    require_volume(strategy, bars)
    rules = _counted(rule_conditions(strategy.checked))
    plan = bound_plan(strategy, strategy_plan(strategy.checked, extra=_rule_nodes(rules)))
    frame = plan.evaluate(bars, whole_data=True)
    return backtest_from_frame(strategy.checked, bars, frame), _rule_counts(strategy, rules, frame)


def count_rules(strategy: Strategy, bars: pl.DataFrame) -> list[RuleCount]:
    """On how many bars each rule's condition held, in a pass of its own."""
    rules = _counted(rule_conditions(strategy.checked))
    if not rules:
        return []
    frame = bound_plan(strategy, compile_nodes(_rule_nodes(rules), source=strategy.checked.filename)).evaluate(bars)
    return _rule_counts(strategy, rules, frame)


def bound_plan(strategy: Strategy, plan: Plan) -> Plan:
    """`plan` (another plan of the same script) reading the other symbols' bars bound to the
    strategy's plan (`with_other_symbols`)."""
    return plan.with_others(strategy.plan.others) if strategy.plan.others is not None else plan


def _counted(rules: Sequence[tuple[ast.Rule, ir.Node]]) -> list[tuple[ast.Rule, ir.Node]]:
    """The rules whose bars can be counted before a run (not those reading position state)."""
    return [(rule, node) for rule, node in rules if not reads_position(node)]


def _rule_nodes(rules: Sequence[tuple[object, ir.Node]]) -> dict[str, ir.Node]:
    return {f"rule.{i}": node for i, (_, node) in enumerate(rules)}


def _rule_counts(strategy: Strategy, rules: Sequence[tuple[ast.Rule, ir.Node]], frame: pl.DataFrame) -> list[RuleCount]:
    return [RuleCount(rule.span.line, written(strategy.checked, rule.span),
                      int(frame[f"rule.{i}"].fill_null(False).sum())) for i, (rule, _) in enumerate(rules)]


def backtest(strategy: Strategy, bars: pl.DataFrame) -> BacktestResult:
    """Run the strategy on bars: evaluate its plan, then the engine."""
    require_volume(strategy, bars)
    return backtest_from_frame(strategy.checked, bars, strategy.plan.evaluate(bars, whole_data=True))


def run_settings(strategy: Strategy, bars: pl.DataFrame, **source: object) -> dict[str, object]:
    """What a run's summary, result.json and report say was run: the risk rules as written, the
    strategy, where it came from (`source`: script, data) and the bars' span."""
    return {**risk_as_written(strategy.checked), "strategy": strategy.title, **source, "bars": bars.height,
            "from": str(bars["timestamp"][0]), "to": str(bars["timestamp"][-1])}


def summarise(strategy: Strategy, bars: pl.DataFrame, result: BacktestResult, *, settings: Mapping[str, object],
              rules: Sequence[RuleCount] = (), last_trades: int = 10) -> str:
    """The terminal summary of a run, for `tradebot run` and the REPL's `:run` alike: prices with
    the data's decimals, params as written."""
    decimals = price_decimals(bars["close"].to_numpy(), tick_size=strategy.checked.settings["tick_size"])
    return format_summary(result, title=strategy.title, settings=settings, params=params_as_written(strategy),
                          last_trades=last_trades, price_decimals=decimals, rules=rules)


def params_as_written(strategy: Strategy) -> dict[str, object]:
    """Param values for people: a percentage param shows as `0.6%`, not 0.006 (JSON keeps numbers)."""
    values = strategy.checked.param_values
    return {p.name: (f"{p.value * 100:.10g}%" if p.is_percent else str(values[p.name]).lower()
                     if isinstance(values[p.name], bool) else values[p.name])
            for p in strategy.checked.params}



def is_portfolio(strategy: Strategy) -> bool:
    """Does the script trade a universe of symbols (docs/execution.md, "Portfolios")?"""
    return strategy.checked.settings.get("universe") is not None
