"""Checked IR → a Polars plan: layers of `with_columns`, then the requested outputs.

Every builtin call and every subexpression used more than once becomes its own column, computed
once however often the script writes it (nodes compare by structure, so `rsi(close, 14)` written
in three rules is one column). A node's layer is one more than the deepest column it reads, so each
layer's columns run in parallel. Only Polars expressions — no per-row Python.

Missing values: indicators are missing during warm-up and missing propagates through arithmetic
and comparisons; `and`/`or` follow three-valued logic; division by zero and non-real results are
missing; a rule whose condition is missing does not fire (docs/language.md, "Missing values").
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Iterable, Mapping, Union

import polars as pl

from ..errors import ScriptError
from ..market.timeframe import infer_interval_ms, parse_timeframe
from . import ir
from .ast import Span
from .builtins import REGISTRY
from .checker import SIGNALS, CheckedProgram
from .library.support import scratch_columns
from .operators import OPERATORS
from .diagnostics import Diagnostic, ScriptDiagnostics
from .stateful.bytecode import compile_group
from .stateful.lowering import group_expr
from .symbols import SymbolStep, others_for
from .timeframes import ResampleStep, check_fits
from .types import NUMBER_SERIES, ArgKind, Kind

Interval = Union[int, dt.timedelta, None]  # the data's bar length in ms


@dataclass(frozen=True)
class WindowUse:
    """A window, history offset or bar count the plan reads: checked against the data's length."""

    bars: int
    span: Span


@dataclass(frozen=True)
class Plan:
    """A compiled set of outputs: run it on bars with `evaluate`."""

    layers: tuple[tuple[pl.Expr, ...], ...]
    outputs: Mapping[str, pl.Expr]
    steps: tuple[ResampleStep, ...] = ()  # `expr @ timeframe` columns, added before the layers
    windows: tuple[WindowUse, ...] = ()  # every window, its own and its steps', longest first
    script: tuple[str, str] | None = None  # (source text, file name): where a window error points
    symbols: tuple[SymbolStep, ...] = ()  # `expr of SYMBOL` columns, joined before the layers
    # The other symbols' bars when bound to the plan (`with_others`): every command that
    # evaluates it (a run, its report, an optimizer's folds) then reads the same data.
    others: Mapping[str, pl.DataFrame] | None = field(default=None, compare=False, repr=False)

    def with_others(self, others: Mapping[str, pl.DataFrame]) -> Plan:
        """This plan with the bars of the symbols it reads bound (`evaluate` uses them when
        given none)."""
        return replace(self, others=dict(others))

    @property
    def other_symbols(self) -> tuple[str, ...]:
        """The symbols whose bars `evaluate` needs in `others` (`close of BTCUSDT`)."""
        return tuple(step.symbol for step in self.symbols)

    def check_windows(self, height: int) -> None:
        """A window longer than the data is refused before anything is computed: its result would
        be all missing (a prefix of the data may be shorter: that is warm-up, not an error)."""
        if not self.windows or self.windows[0].bars <= height:
            return
        use = self.windows[0]
        message = f"a window of {use.bars:,} bars is longer than the data ({height:,} bars)"
        hint = "use a shorter window, or run on more data"
        if self.script is None:
            raise ScriptError(f"{message}; {hint}")
        source, filename = self.script
        raise ScriptDiagnostics([Diagnostic(message, use.span, hint)], source, filename)

    def lazy(self, bars: pl.DataFrame | pl.LazyFrame, *, interval: Interval = None,
             bar_end: pl.Expr | None = None, keep: tuple[str, ...] = (),
             others: Mapping[str, pl.DataFrame] | None = None,
             every_column: bool = False) -> pl.LazyFrame:
        """The plan on `bars`. `interval` is the data's bar length (inferred from the bars when
        not given); it decides when a higher-timeframe bar is complete (lang/timeframes.py).
        `others`: the bars of each symbol read with `of` (lang/symbols.py), at the same interval.
        `every_column`: keep every intermediate column too (paper trading compares them to know
        that two evaluations starting at different bars have reached the same values)."""
        frame = bars.lazy()
        if self.steps:
            bar_end = bar_end if bar_end is not None else self._bar_end(bars, interval)
            for step in self.steps:
                frame = step.apply(frame, bar_end)
        if self.symbols:
            others = others_for(self.symbols, others if others is not None else self.others, self.script)
            ms = _interval_ms(bars, interval)  # the other symbols' too: the caller loads them so
            for symbol_step in self.symbols:
                frame = symbol_step.apply(frame, others[symbol_step.symbol], ms)
        for layer in self.layers:
            frame = frame.with_columns(layer)
        outputs = (expr.alias(name) for name, expr in self.outputs.items())
        return frame.with_columns(outputs) if every_column else frame.select(*keep, *outputs)

    def evaluate(self, bars: pl.DataFrame, *, interval: Interval = None,
                 whole_data: bool = False, others: Mapping[str, pl.DataFrame] | None = None,
                 every_column: bool = False) -> pl.DataFrame:
        """One column per output, one row per bar. `whole_data`: the bars are all the data there
        is (a run, not a prefix or a fold), so a window longer than them is an error
        (`check_windows`; the windows of `@` steps count too: higher bars are fewer)."""
        if whole_data:
            self.check_windows(bars.height)
            if self.symbols:
                others = others_for(self.symbols, others if others is not None else self.others, self.script)
                for step in self.symbols:  # each symbol's windows against its own bars
                    step.plan.check_windows(others[step.symbol].height)
        # The in-memory engine: Polars 2.1's streaming engine fails ("zip node received non-equal
        # length inputs") on a literal compared with a shifted column under a rolling window,
        # found by tests/lang/test_compiler_reference.py. Bars fit in memory anyway.
        frame = self.lazy(bars, interval=interval, others=others, every_column=every_column)
        if self.steps or self.symbols or _LEAN is None:  # joins: the default optimisations pay
            return frame.collect(engine="in-memory")
        return frame.collect(engine="in-memory", optimizations=_LEAN)

    def _bar_end(self, bars: pl.DataFrame | pl.LazyFrame, interval: Interval) -> pl.Expr:
        """Each base bar's end time in ms (its start + the data's interval); checks every
        timeframe against that interval."""
        ms = _interval_ms(bars, interval)
        for step in self.steps:
            check_fits(step.frame, ms, step.span, step.filename, self.script[0] if self.script else None)
        return pl.col("timestamp").dt.epoch("ms") + (ms or 0)


def _lean_optimizations() -> object | None:
    """The optimisations a plan without joins (`@ timeframe`, `of SYMBOL`) is collected with:
    type coercion, simplified expressions and common subexpressions (one column for an
    intermediate written twice in a lowering), not the pushdowns and the rest of Polars'
    default set. A plan's layers read only what they need (the compiler drops unread columns),
    so pushing the projection down finds nothing to drop but still costs its pass: 0.05-0.2 ms
    an evaluation (best of 31 on 1M bars: atr(14) 1.74 -> 1.60 ms, highest(high, 20) 1.05 ->
    0.97, mom(close, 10) 0.50 -> 0.38). None on a Polars without the flags."""
    flags_type = getattr(pl, "QueryOptFlags", None)
    if flags_type is None:
        return None
    return flags_type.none(simplify_expression=True, comm_subexpr_elim=True)


_LEAN = _lean_optimizations()


def _interval_ms(bars: pl.DataFrame | pl.LazyFrame, interval: Interval) -> int | None:
    """The data's bar length in ms: `interval` as given, else inferred from the bars."""
    if isinstance(interval, dt.timedelta):
        return int(interval / dt.timedelta(milliseconds=1))
    if interval is None:
        stamps = bars.lazy().select(pl.col("timestamp").dt.epoch("ms")).collect()
        return infer_interval_ms(stamps.to_series().to_numpy())
    return interval


def compile_program(checked: CheckedProgram, *, series: Iterable[str] = (), signals: bool = True) -> Plan:
    """The plan for the four signals (missing → false) and any named series asked for."""
    outputs: dict[str, ir.Node] = {name: checked.series[name] for name in series}
    if signals:
        outputs.update({name: checked.signals[name] for name in SIGNALS})
    plan = compile_nodes(outputs, source=checked.filename, text=checked.source)
    if not signals:
        return plan
    finished = {name: (expr.fill_null(False) if name in SIGNALS else expr) for name, expr in plan.outputs.items()}
    return replace(plan, outputs=finished)


def compile_nodes(outputs: Mapping[str, ir.Node], *, source: str | None = None,
                  text: str | None = None, precomputed: Mapping[ir.Node, str] | None = None) -> Plan:
    """`source`: the script's file name, to say where an `@ timeframe` that does not fit is;
    `text`: the script's text, to show where a window longer than the data is. `precomputed`:
    nodes whose values the bars the plan is evaluated on already hold, by column name (a sweep's
    indicators computed by an earlier batch, optimize/columns.py): read, not computed."""
    with ir.shared_equality():  # the outputs of many programs (a sweep) hold equal, distinct nodes
        plan = _Lowering(outputs, source, precomputed or {}).plan()
    if text is None:
        return plan
    script = (text, source or "<script>")
    symbols = tuple(replace(step, plan=replace(step.plan, script=script)) for step in plan.symbols)
    return replace(plan, script=script, symbols=symbols)


class _Lowering:
    def __init__(self, outputs: Mapping[str, ir.Node], source: str | None = None,
                 precomputed: Mapping[ir.Node, str] | None = None) -> None:
        self.outputs = outputs
        self.source = source
        self.first: dict[ir.Node, ir.Node] = {}  # each node -> the first equal one met (`_key`)
        self.keys: dict[int, tuple[ir.Node, int]] = {}  # id(node) -> (node, its `_key`)
        # `_key` of a node -> (column, layer); a precomputed node is a column of the bars (layer 0)
        self.columns: dict[int, tuple[str, int]] = {self._key(node): (name, 0)
                                                    for node, name in (precomputed or {}).items()}
        self.uses: Counter[int] = Counter()  # `_key` -> uses
        for node in outputs.values():
            self._count(node)
        self.layers: list[list[pl.Expr]] = []
        self.scratch = 0  # builtins lowered so far (names their shared intermediates)
        self.resamples: dict[str, dict[str, ir.Node]] = {}  # timeframe -> {column: expression}
        self.resample_spans: dict[str, Span] = {}  # timeframe -> its first `@`
        self.others: dict[str, dict[str, ir.Node]] = {}  # symbol -> {column: expression}
        self.other_spans: dict[str, Span] = {}  # symbol -> its first `of`
        self.windows: list[WindowUse] = []
        self.groups: dict[int, tuple[str, int]] = {}  # `_key` of a recursion -> (struct column, layer)
        self.literals: dict[tuple[Kind, str], pl.Expr] = {}  # a constant's kind and value -> its literal

    def _key(self, node: ir.Node) -> int:
        """The key of `node` in the dicts above: the id of the first node equal to it that this
        compile met. A sweep's plan meets equal nodes of many programs, each looked up several
        times: each node is compared with the others once, here, and every lookup after that
        hashes an int. `keys` and `first` keep every node seen referenced: no id is a freed
        node's, reused."""
        found = self.keys.get(id(node))
        if found is None:
            found = self.keys[id(node)] = (node, id(self.first.setdefault(node, node)))
        return found[1]

    def _count(self, node: ir.Node) -> None:
        key = self._key(node)
        self.uses[key] += 1
        if self.uses[key] == 1 and key not in self.columns:  # each distinct subtree's children once
            for index, child in enumerate(ir.children(node)):
                self._count(child)
                if isinstance(child, ir.Op) and (_windows(node) or _column_operand(node, index)):
                    # A column, not a nested expression: Polars 2.1 can evaluate a when/then whose
                    # mask is all false to a single value, which shift/rolling then mishandle;
                    # with_columns broadcasts it to every bar. Also where a NaN or a repeated
                    # read would cost (`_column_operand`).
                    self.uses[self._key(child)] += 1

    def _materialize(self, node: ir.Node) -> bool:
        if isinstance(node, (ir.Const, ir.Resample, ir.OfSymbol)) or (isinstance(node, ir.Call) and not node.args
                                                          and REGISTRY[node.name].is_series):
            return False
        return isinstance(node, ir.Call) or self.uses[self._key(node)] > 1

    def plan(self) -> Plan:
        outputs = {name: self._output(node) for name, node in self.outputs.items()}
        steps = tuple(ResampleStep(parse_timeframe(frame), compile_nodes(columns, source=self.source),
                                   self.resample_spans[frame], self.source or "<script>")
                      for frame, columns in self.resamples.items())
        windows = [*self.windows, *(w for step in steps for w in step.plan.windows)]
        symbols = tuple(SymbolStep(symbol, compile_nodes(columns, source=self.source), self.other_spans[symbol])
                        for symbol, columns in sorted(self.others.items()))
        layers, outputs = _fold_outputs(_read_columns(self.layers, outputs), outputs)
        return Plan(layers, outputs, steps, tuple(sorted(windows, key=lambda w: -w.bars)), symbols=symbols)

    def _output(self, node: ir.Node) -> pl.Expr:
        expr = self.expr(node)[0]
        if isinstance(node, ir.Const):
            return _broadcast(expr)
        return expr if expr.meta.is_column() else _without_nan(node, expr)  # (a column is without already)

    def expr(self, node: ir.Node) -> tuple[pl.Expr, int]:
        """The expression for `node` and the layer whose columns it reads."""
        key = self._key(node)
        if key in self.columns:
            column, layer = self.columns[key]
            return pl.col(column), layer
        expr, depth = self._lower(node)
        if not self._materialize(node):
            return expr, depth
        column = f"__n{len(self.columns)}"
        while len(self.layers) <= depth:
            self.layers.append([])
        self.layers[depth].append(_without_nan(node, expr).alias(column))
        self.columns[key] = (column, depth + 1)
        return pl.col(column), depth + 1

    def _lower(self, node: ir.Node) -> tuple[pl.Expr, int]:
        if isinstance(node, ir.Const):  # one literal per value: each use of a constant is lowered anew
            key = (node.type.kind, repr(node.value))  # repr: -0.0 is not 0.0 here
            if key not in self.literals:
                self.literals[key] = _literal(node)
            return self.literals[key], 0
        if isinstance(node, ir.Call):
            return self._call(node)
        if isinstance(node, ir.FieldOf):
            target, depth = self._call_outputs(node.target)
            return target[node.name], depth
        if isinstance(node, ir.Resample):
            return self._resample(node)
        if isinstance(node, ir.OfSymbol):
            return self._of_symbol(node)
        if isinstance(node, ir.StateOf):
            column, depth = self._recurrence(node.group)
            return pl.col(column).struct.field(node.name), depth
        if isinstance(node, ir.Op):
            args = [self.expr(a) for a in node.args]
            depth = max((d for _, d in args), default=0)
            exprs = [e for e, _ in args]
            if node.param is not None:
                self.windows.append(WindowUse(node.param, node.span))
            if OPERATORS[node.op].windowed:
                # A literal is one value, not a column: shifting or rolling it would give null.
                exprs = [_broadcast(e) if isinstance(a, ir.Const) else e for e, a in zip(exprs, node.args)]
            return lower_op(node, exprs), depth
        raise TypeError(f"cannot compile {type(node).__name__}")

    def _arguments(self, node: ir.Call) -> tuple[list[object], int]:
        builtin = REGISTRY[node.name]
        values: list[object] = []
        depth = 0
        for spec, arg in zip(builtin.params, node.args):
            if spec.kind.is_constant or (spec.kind is ArgKind.WINDOW and isinstance(arg, ir.Const)):
                values.append(arg.value)  # type: ignore[union-attr]  # a constant window: the fast path
                if spec.kind in (ArgKind.LENGTH, ArgKind.WINDOW):
                    self.windows.append(WindowUse(int(arg.value), arg.span if arg.span.line else node.span))  # type: ignore[union-attr,arg-type]
                continue
            expr, d = self.expr(arg)
            # A builtin windows over its series arguments; a bare literal is one value, not a series.
            values.append(_broadcast(expr) if isinstance(arg, ir.Const) else expr)
            depth = max(depth, d)
        return values, depth

    def _call(self, node: ir.Call) -> tuple[pl.Expr, int]:
        if node.type.kind is Kind.RECORD:
            raise TypeError("a multi-output call is only compiled through one of its fields")
        values, depth = self._arguments(node)
        return self._lower_builtin(node, values, depth)

    def _lower_builtin(self, node: ir.Call, values: list[object], depth: int) -> tuple[object, int]:
        """The builtin's lowering; the intermediates it shares (library.support.share) become
        columns in the layers before its result's."""
        prefix = f"__s{self.scratch}_"
        self.scratch += 1
        with scratch_columns(prefix) as pending:
            result = REGISTRY[node.name].lower(*values)
        placed: dict[str, int] = {}
        for column, expr in pending:
            layer = max([depth, *(placed[c] + 1 for c in expr.meta.root_names() if c in placed)])
            while len(self.layers) <= layer:
                self.layers.append([])
            self.layers[layer].append(expr.alias(column))
            placed[column] = layer
        return result, max([depth, *(layer + 1 for layer in placed.values())])

    def _call_outputs(self, node: ir.Call) -> tuple[dict[str, pl.Expr], int]:
        """A multi-output builtin: every field is one column, computed together."""
        key = self._key(node)
        if key in self.columns:
            prefix, layer = self.columns[key]
            return {f: pl.col(f"{prefix}_{f}") for f in node.type.fields}, layer
        values, depth = self._arguments(node)
        fields, depth = self._lower_builtin(node, values, depth)
        prefix = f"__n{len(self.columns)}"
        while len(self.layers) <= depth:
            self.layers.append([])
        self.layers[depth].extend(expr.alias(f"{prefix}_{f}") for f, expr in fields.items())
        self.columns[key] = (prefix, depth + 1)
        return {f: pl.col(f"{prefix}_{f}") for f in fields}, depth + 1

    def _recurrence(self, group: ir.Recurrence) -> tuple[str, int]:
        """A recursion (lang/stateful/): its inputs are columns of earlier layers, and the VM's
        run over them one struct column with a field per member."""
        key = self._key(group)
        if key not in self.groups:
            program = compile_group(group)
            inputs = [self.expr(node) for node in program.inputs or (ir.Call("close", (), NUMBER_SERIES),)]
            depth = max(d for _, d in inputs)
            column = f"__g{len(self.groups)}"
            while len(self.layers) <= depth:
                self.layers.append([])
            self.layers[depth].append(group_expr(group, program, [e for e, _ in inputs]).alias(column))
            self.groups[key] = (column, depth + 1)
        return self.groups[key]

    def _resample(self, node: ir.Resample) -> tuple[pl.Expr, int]:
        """`expr @ tf`: a column the timeframe's resampling step adds before the first layer."""
        return self._step_column(node, "__r", node.timeframe, self.resamples, self.resample_spans)

    def _of_symbol(self, node: ir.OfSymbol) -> tuple[pl.Expr, int]:
        """`expr of SYMBOL`: a column that symbol's step joins on before the first layer."""
        return self._step_column(node, "__s", node.symbol, self.others, self.other_spans)

    def _step_column(self, node: ir.Resample | ir.OfSymbol, prefix: str, step: str,
                     columns: dict[str, dict[str, ir.Node]], spans: dict[str, Span]) -> tuple[pl.Expr, int]:
        """`node.expr` as one more column of the step keyed `step` (each step is a plan of its own);
        the step's first use is where its errors point."""
        column = f"{prefix}{sum(len(c) for c in columns.values())}"
        columns.setdefault(step, {})[column] = node.expr
        spans.setdefault(step, node.span)
        self.columns[self._key(node)] = (column, 0)
        return pl.col(column), 0


def _read_columns(layers: list[list[pl.Expr]], outputs: Mapping[str, pl.Expr]) -> list[list[pl.Expr]]:
    """The layers without the columns nothing reads: the fields of a multi-output call the
    script does not use (`linreg(close, 14).slope` leaves `value` and `intercept`)."""
    needed = {name for expr in outputs.values() for name in expr.meta.root_names()}
    kept: list[list[pl.Expr]] = []
    for layer in reversed(layers):
        read = [expr for expr in layer if expr.meta.output_name() in needed]
        needed.update(name for expr in read for name in expr.meta.root_names())
        kept.append(read)
    return kept[::-1]


def _fold_outputs(layers: list[list[pl.Expr]], outputs: Mapping[str, pl.Expr]
                  ) -> tuple[tuple[tuple[pl.Expr, ...], ...], dict[str, pl.Expr]]:
    """An output that is a layer's column read nowhere else is computed by the final `select`
    itself: a plan of `x = highest(high, 20)` is then one node, not a `with_columns` and a
    `select`, which saves Polars 0.1 ms of optimising and running a node (0.43-0.50 against
    0.35-0.39 ms for mom(close, 10) on 1M bars; TA-Lib's MOM takes 0.22-0.44). Only a column
    computed from other columns moves: `select` gives a lone constant one row, where
    `with_columns` broadcasts it to every bar."""
    reads = Counter(name for layer in layers for expr in layer for name in expr.meta.root_names())
    reads.update(name for expr in outputs.values() for name in expr.meta.root_names())
    defined = {expr.meta.output_name(): (index, expr) for index, layer in enumerate(layers) for expr in layer}
    folded = dict(outputs)
    for name, expr in outputs.items():
        column = expr.meta.output_name() if expr.meta.is_column() else None
        if column in defined and reads[column] == 1 and defined[column][1].meta.root_names():
            index, definition = defined.pop(column)
            layers[index] = [e for e in layers[index] if e is not definition]
            folded[name] = definition
    return tuple(tuple(layer) for layer in layers if layer), folded


def _column_operand(node: ir.Node, index: int) -> bool:
    """Whether operand `index` of `node`, when an operation, is made a column of its own: every
    argument of a builtin (a NaN from its arithmetic would fool `nz`, `max`, a Polars window), and
    the operands an operator lists in `OpSpec.columns` (a comparison's, `if`'s condition)."""
    if isinstance(node, ir.Call):
        return True
    return isinstance(node, ir.Op) and index in OPERATORS[node.op].columns


def _without_nan(node: ir.Node, expr: pl.Expr) -> pl.Expr:
    """A column of a number operation with NaN made missing: arithmetic lets infinities make NaN
    (inf - inf, 0 * inf), which the language calls missing, and which Polars would otherwise
    order above every number (`NaN > 0` true). Made where an operation becomes a column or an
    output (0.1-0.2 ms for 1M values), never inside a chain of arithmetic, where a NaN propagates
    as a missing value does and a fill at each step would nest Polars' expansion of it."""
    if isinstance(node, ir.Op) and node.type.kind is Kind.NUMBER and not node.type.fields:
        return expr.fill_nan(None)
    return expr


def _windows(node: ir.Node) -> bool:
    """Whether `node` reads its arguments over several bars (a shift, a window, a recursion)."""
    return (isinstance(node, ir.Op) and OPERATORS[node.op].windowed) or (
        isinstance(node, ir.Call) and not REGISTRY[node.name].elementwise)


def _broadcast(literal: pl.Expr) -> pl.Expr:
    return pl.repeat(literal, pl.len())


def _literal(node: ir.Const) -> pl.Expr:
    if node.type.kind is Kind.BOOL:
        return pl.lit(bool(node.value), dtype=pl.Boolean)
    if node.type.kind is Kind.STRING:
        return pl.lit(str(node.value))
    return pl.lit(float(node.value), dtype=pl.Float64)  # type: ignore[arg-type]


def lower_op(node: ir.Op, args: list[pl.Expr]) -> pl.Expr:
    """One operator in Polars, with the language's missing-value rules (lang/operators.py)."""
    spec = OPERATORS[node.op]
    if spec.mirror is not None and isinstance(node.args[0], ir.Const) and not isinstance(node.args[1], ir.Const):
        # `1 < x` as `x > 1`: Polars 2.1 returns a single value for a literal compared with an
        # all-missing column (found by tests/lang/test_compiler_reference.py).
        return OPERATORS[spec.mirror].lower([args[1], args[0]], node.param)
    return spec.lower(args, node.param)
