"""Where position state may be read, checked with reasons (docs/language.md, "Position state").

Position values exist only inside the engine's run, bar by bar. A rule, a definition or a stop,
target or trailing value may read them; these may not, each for a reason the error gives:
- `expr @ 4h`: the higher-timeframe bars are built before the run, where there is no position;
- a window function (`sma(open_profit, 5)`) or a streak (`... for 3 bars`): those run over whole
  columns before the run (a recursion keeps a running value instead);
- a break-even trigger or an entry order's price: both are fixed when the order is placed, while
  the position they would read is not there yet;
- `size risk`, which sizes the entry from its stop, when the stop reads position state (such a
  stop is set at the close of the entry bar, after the size was needed).
A universe (a portfolio run) may read them: each symbol runs the program on its own position.
Params, settings and `optimize where` hold constants only, which the checker already requires.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from . import ir
from .diagnostics import did_you_mean
from .risk_check import RiskRules
from .stateful.bytecode import Unsupported
from .stateful.position import TRACKED, PositionReads, compile_position, exit_reason_code
from ..market.vocab import EXIT_REASONS

ErrorFn = Callable[..., object]
RECURSION_HINT = ("a window runs over whole columns before the backtest, and position state exists "
                  "only bar by bar inside it; keep a running value in a series that reads its own "
                  "past instead, e.g. `avg = avg[1] * 0.8 + open_profit * 0.2 starting 0`")
TIMEFRAME_HINT = ("higher-timeframe bars are built before the run, where there is no position: "
                  "compare the position value outside the `@`, e.g. "
                  "`(rsi(close, 14) @ 4h) > 50 and open_profit > 0`")


def check_position(series: Mapping[str, ir.Node], signals: Mapping[str, ir.Node], risk: RiskRules,
                   settings: Mapping[str, Any], error: ErrorFn) -> None:
    """Report every misuse of position state (see the module docstring)."""
    reported: set[tuple[int, int]] = set()
    nodes = {**signals, **series}
    for side in ("long", "short"):
        rules = risk.side(side)
        nodes.update({f"{side}.{name}": level.value for name, level in rules.levels.items()})
    reads = PositionReads()  # one walk over the nodes' shared graph
    for name, node in nodes.items():
        if reads.of(node):  # what reads no position value compiles to no program: nothing to refuse
            _compilable(name, node, error, reported)
    _exit_reasons(nodes.values(), error)
    for side in ("long", "short"):
        _risk_side(side, risk, settings, error, reads)


def _compilable(name: str, node: ir.Node, error: ErrorFn, reported: set[tuple[int, int]]) -> None:
    try:
        compile_position({name: node})
    except Unsupported as exc:
        key = (exc.span.start, exc.span.end)
        if key in reported:
            return
        reported.add(key)
        hint = TIMEFRAME_HINT if exc.what.startswith("`@") else RECURSION_HINT
        if exc.what.startswith("`of "):
            hint = ("another symbol's series is computed on its own bars before the run, where "
                    "there is no position: compare the position value outside the `of`")
        function = exc.what.strip("`").split("(")[0]
        if function in ("highest", "lowest"):  # `highest(high, bars_since_entry + 1)`
            hint = (f"the {function} value since the entry is `{function}_since_entry(x)`; a window "
                    "runs over whole columns before the backtest, where there is no position")
        if function in TRACKED:
            hint = "it follows a column computed before the run: give it prices or indicators"
        error(f"{exc.what} cannot read position state (`{exc.member}`)", exc.span, hint)


def _exit_reasons(nodes, error: ErrorFn) -> None:
    """`last_exit_reason == "stopp"`: a reason the engine never gives."""
    for node in ir.walk(*nodes):
        if not (isinstance(node, ir.Op) and node.op in ("==", "!=")):
            continue
        names = {a.name for a in node.args if isinstance(a, ir.Call)}
        for arg in node.args:
            if ("last_exit_reason" in names and isinstance(arg, ir.Const) and isinstance(arg.value, str)
                    and exit_reason_code(arg.value) < 0):
                error(f'"{arg.value}" is not an exit reason', arg.span,
                      did_you_mean(arg.value, EXIT_REASONS) or "exit reasons are: " + ", ".join(EXIT_REASONS))


def _risk_side(side: str, risk: RiskRules, settings: Mapping[str, Any], error: ErrorFn,
               reads: PositionReads) -> None:
    rules = risk.side(side)
    fixed = {"break_even": ("a break-even trigger", rules.levels.get("break_even"))}
    if rules.entry is not None:
        fixed["entry"] = ("an entry order's price", rules.entry)
    for what, spec in fixed.values():
        value = getattr(spec, "value", None) if spec is not None else None
        value = getattr(spec, "price", value)
        if value is not None and reads.of(value):
            error(f"{what} cannot read position state", spec.span,  # type: ignore[union-attr]
                  "it is fixed when the entry order is placed, before the position it would read "
                  "exists; a stop or target may read it (set at each close)")
    target = rules.levels.get("take_profit")
    if target is not None and rules.ladder and reads.of(target.value):
        error(f"a target that reads position state cannot sit beside the {side} ladder's targets",
              target.span, "the engine would move the rungs' targets with it: give the rungs' "
              "distances only (e.g. `take_profit long 2% exit 50%`) and let the rest ride a "
              "trailing stop, or drop the ladder")
    stop = rules.levels.get("stop_loss")
    size = settings.get("size")
    if stop is not None and reads.of(stop.value) and size and size[0] == "risk":
        error("`size risk` sizes an entry from its stop, and this stop reads position state",
              stop.span, "such a stop is set at the close of the entry bar, after the entry was "
              "sized: give the stop without position values, or size by equity")
