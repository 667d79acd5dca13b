"""AST → checked program: every definition, param, setting and rule validated, all errors at once.

The result (`CheckedProgram`) holds resolved settings, the params' values and declared domains,
the named series and the four signal conditions as IR — what the compiler and the reference
evaluator consume — plus the risk rules (stops, targets, time exits, entry orders; checked by
risk_check.py once the params are known). Definitions may appear in any order; cycles are reported.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Collection, Mapping

from . import ast, ir
from .ast import Span
from .builtins import REGISTRY
from .diagnostics import Diagnostic, ScriptDiagnostics, did_you_mean
from .library.pine_names import pine_hint
from .optimize_check import OptimizeSpec, check_optimize
from .param_check import OverrideError, apply_overrides, param_info
from .params import ParamInfo, param_value
from .parser import SyntaxDiagnostics, parse_expression, parse_program, without_bom
from .portions import check_portion, exit_portion
from .position_check import check_position
from .risk_check import RiskRules, check_risk, is_extended
from .resolve import INVALID, SYMBOL, Resolver, Scope, is_invalid
from .settings import SETTINGS
from .stateful.groups import Recursions, cycles, reference_graph
from .types import BOOL_CONST, Kind

SIGNALS = ("enter_long", "exit_long", "enter_short", "exit_short")


@dataclass(frozen=True)
class CheckedProgram:
    """A script that passed every check, ready to compile."""

    name: str | None
    settings: Mapping[str, Any]
    params: tuple[ParamInfo, ...]
    series: Mapping[str, ir.Node]  # named definitions, in source order
    signals: Mapping[str, ir.Node]  # enter_long, exit_long, enter_short, exit_short (bool)
    warnings: tuple[Diagnostic, ...]
    source: str
    filename: str
    program: ast.Program = field(compare=False, repr=False)
    optimize: OptimizeSpec | None = None  # the `optimize` statement, if any
    risk: RiskRules = field(default_factory=RiskRules)  # stops, targets, time exits, entry orders

    @property
    def param_values(self) -> dict[str, float | bool | str]:
        return {p.name: (p.label if p.labels is not None else int(p.value) if p.is_int else p.value)
                for p in self.params}


def check(program: ast.Program, *, source: str, filename: str,
          overrides: Mapping[str, float | bool | str] | None = None,
          objectives: Collection[str] | None = None, broken: Collection[str] = ()) -> CheckedProgram:
    """Check a parsed script; raise ScriptDiagnostics listing every error.

    `objectives`: the metric names an `optimize` statement may name (unchecked when None);
    `broken`: names defined by statements that did not parse (their uses are not errors).
    """
    checker = _Checker(program, source, filename, dict(overrides or {}))
    checker.objectives = objectives
    checker.broken = frozenset(broken)
    return checker.run()


def check_source(source: str, filename: str, *, overrides: Mapping[str, float | bool | str] | None = None,
                 objectives: Collection[str] | None = None) -> CheckedProgram:
    """Parse and check a script's text: every mistake at once, syntax errors and the checker's
    errors in the statements that did parse (issue 11.6). Raises ScriptDiagnostics."""
    source = without_bom(source)
    try:
        program = parse_program(source, filename)
    except SyntaxDiagnostics as syntax:
        try:
            check(syntax.partial, source=source, filename=filename, overrides=overrides,
                  objectives=objectives, broken=syntax.broken)
        except ScriptDiagnostics as more:
            raise ScriptDiagnostics([*syntax.diagnostics, *more.diagnostics], source, filename) from None
        except OverrideError:
            pass  # `--set` may name a param whose line did not parse: the syntax error comes first
        raise
    return check(program, source=source, filename=filename, overrides=overrides, objectives=objectives)


def check_expression(text: str, filename: str, *, within: CheckedProgram | None = None) -> ir.Node:
    """One expression → IR: what `tradebot eval` computes and the REPL evaluates. In scope: the
    builtins, and with `within` a checked script's definitions, params and functions (the REPL's
    session). Raises ScriptDiagnostics pointing into `text`, named `filename`."""
    expr = parse_expression(text, filename)
    errors: list[Diagnostic] = []
    resolver = Resolver(errors)
    node = resolver.bounded(resolver.resolve(expr, _scope_of(within)), expr.span)
    if errors or is_invalid(node):
        raise ScriptDiagnostics(errors, text, filename)
    return node


def _scope_of(checked: CheckedProgram | None) -> Scope:
    if checked is None:
        return Scope(lambda name, span: None, {}, lambda: list(REGISTRY), {})
    functions = {s.name: s for s in checked.program.statements if isinstance(s, ast.FuncDef)}
    params = {p.name: p for p in checked.params}

    def lookup(name: str, span: Span) -> ir.Node | None:
        if name in checked.series:
            return checked.series[name]
        return param_value(params[name], span) if name in params else None
    return Scope(lookup, functions, lambda: [*checked.series, *params, *functions, *REGISTRY], {})


class _Checker:
    def __init__(self, program: ast.Program, source: str, filename: str,
                 overrides: dict[str, float | bool | str]):
        self.program, self.source, self.filename = program, source, filename
        self.overrides = overrides
        self.errors: list[Diagnostic] = []
        self.warnings: list[Diagnostic] = []
        self.resolver = Resolver(self.errors)
        self.definitions: dict[str, ast.Statement] = {}
        self.functions: dict[str, ast.FuncDef] = {}
        self.params: dict[str, ParamInfo] = {}
        self.resolved: dict[str, ir.Node] = {}
        self.resolving: list[str] = []
        self.depths: list[int] = []  # the resolver's history depth when each of `resolving` began
        self.recursions = Recursions(self._error, self.resolver)
        self.cycles: dict[str, frozenset[str]] = {}
        self.objectives: Collection[str] | None = None
        self.broken: frozenset[str] = frozenset()
        self.exit_portions: dict[str, ir.Node | None] = {}  # per side, from the exit rules

    # ------------------------------------------------------------ driver
    def run(self) -> CheckedProgram:
        statements = self.program.statements
        self._collect_definitions(statements)
        name = self._strategy_name(statements)
        for decl in statements:  # a duplicate declaration is reported, then skipped
            if isinstance(decl, ast.ParamDecl) and self.definitions.get(decl.name) is decl:
                info = param_info(decl, self._error)
                if info is not None:
                    self.params[decl.name] = info
        self.params = apply_overrides(self.params, self.overrides)
        # After the params: a setting may be a param (`stop_loss sl`), with its `--set` value.
        settings = self._settings([s for s in statements if isinstance(s, ast.Setting)])
        assigns = [s for s in statements if isinstance(s, ast.Assign) and self.definitions.get(s.name) is s]
        self.cycles = cycles(reference_graph(assigns, self.functions))
        for stmt in assigns:  # a recursion is entered where its start value is declared
            if stmt.start is not None:
                self._definition_value(stmt.name, stmt.name_span)
        series = {s.name: self._definition_value(s.name, s.name_span)
                  for s in statements if isinstance(s, ast.Assign)}
        signals = self._rules([s for s in statements if isinstance(s, ast.Rule)])
        optimize = check_optimize([s for s in statements if isinstance(s, ast.Optimize)],
                                  params=self.params, error=self._error, objectives=self.objectives,
                                  resolve=lambda expr: self.resolver.resolve(expr, self.scope()))
        risk_values, risk = self._risk(statements, settings)
        risk = RiskRules(*(replace(risk.side(side), exit_portion=self.exit_portions.get(side))
                           for side in ("long", "short")))
        settings.update(risk_values)
        check_position(series, signals, risk, settings, self._error)
        self._unused_function_bodies()
        if self.errors:
            raise ScriptDiagnostics(self.errors, self.source, self.filename)
        return CheckedProgram(name, settings, tuple(self.params.values()),
                              {k: v for k, v in series.items() if not is_invalid(v)}, signals,
                              tuple(self.warnings), self.source, self.filename, self.program, optimize,
                              risk)

    def scope(self) -> Scope:
        return Scope(self._lookup, self.functions, self._known_names, {}, broken=self.broken)

    def _known_names(self) -> list[str]:
        return [*self.definitions, *REGISTRY]

    # ------------------------------------------------------------ definitions
    def _collect_definitions(self, statements: tuple[ast.Statement, ...]) -> None:
        for stmt in statements:
            if not isinstance(stmt, (ast.Assign, ast.ParamDecl, ast.FuncDef)):
                continue
            name, span = stmt.name, stmt.name_span
            if name in REGISTRY:
                kind = "series" if REGISTRY[name].is_series else "function"
                self._error(f"`{name}` is a built-in {kind}; a definition cannot replace it", span,
                            f"choose another name, such as `my_{name}`")
            elif isinstance(stmt, ast.Assign) and name in SETTINGS:
                self._error(f"`{name}` is a setting, not a variable", stmt.span,
                            f"write it without `=`: `{SETTINGS[name].example}`")
            elif name in self.definitions:
                self._error(f"`{name}` is already defined on line {self.definitions[name].span.line}",
                            span, "each name is defined once; rename one of them")
            else:
                self.definitions[name] = stmt
                if isinstance(stmt, ast.FuncDef):
                    self.functions[name] = stmt
                    self._check_function_params(stmt)

    def _check_function_params(self, func: ast.FuncDef) -> None:
        seen: set[str] = set()
        for param in func.params:
            if param.id in seen:
                self._error(f"parameter `{param.id}` appears twice in `{func.name}`", param.span)
            seen.add(param.id)

    def _lookup(self, name: str, span: Span) -> ir.Node | None:
        stmt = self.definitions.get(name)
        if stmt is None or isinstance(stmt, ast.FuncDef):
            return None
        return self._definition_value(name, span)

    def _definition_value(self, name: str, span: Span) -> ir.Node:
        if name in self.resolved:
            return self.resolved[name]
        stmt = self.definitions.get(name)
        if isinstance(stmt, ast.ParamDecl):
            info = self.params.get(name)
            return INVALID if info is None else param_value(info, stmt.name_span)
        if not isinstance(stmt, ast.Assign):
            return INVALID
        if name in self.resolving:
            index = self.resolving.index(name)
            through_history = self.resolver.history_depth > self.depths[index]
            return self.recursions.reenter(stmt, [*self.resolving[index:], name], through_history, span)
        if stmt.start is None and self._enter_recursion_first(name):
            return self.resolved[name]
        self.resolving.append(name)
        self.depths.append(self.resolver.history_depth)
        start = self._start_value(stmt)
        value = self.resolver.bounded(self.resolver.resolve(stmt.value, self.scope()), stmt.value.span)
        self.resolving.pop()
        self.depths.pop()
        value = self.recursions.finish(stmt, value, start, self.resolving, self.resolved)
        self.resolved[name] = value
        return value

    def _enter_recursion_first(self, name: str) -> bool:
        """Resolve the definitions with `starting` that `name` may read in a cycle first (the
        recursion needs its placeholders where the start values are); whether that resolved `name`."""
        for other in sorted(self.cycles.get(name, ()) - {name}, key=lambda n: self.definitions[n].span.start):
            stmt = self.definitions[other]
            if (isinstance(stmt, ast.Assign) and stmt.start is not None and other not in self.resolved
                    and other not in self.resolving):
                self._definition_value(other, stmt.name_span)
        return name in self.resolved

    def _start_value(self, stmt: ast.Assign) -> ir.Node | None:
        if stmt.start is None:
            return None
        self.recursions.in_start.add(stmt.name)
        start = self.resolver.resolve(stmt.start, self.scope())
        self.recursions.in_start.discard(stmt.name)
        if not is_invalid(start) and start.type.kind not in (Kind.NUMBER, Kind.BOOL):
            self._error(f"a start value is a number or a condition, got a {start.type.describe()}",
                        stmt.start.span, "for example `starting 0` or `starting close`")
            start = INVALID
        self.recursions.starts[stmt.name] = start
        return start

    # ------------------------------------------------------------ strategy, settings
    def _strategy_name(self, statements: tuple[ast.Statement, ...]) -> str | None:
        decls = [s for s in statements if isinstance(s, ast.StrategyDecl)]
        for extra in decls[1:]:
            self._error("the strategy is named twice", extra.span,
                        f"it is already named on line {decls[0].span.line}")
        return decls[0].name if decls else None

    def _settings(self, settings: list[ast.Setting]) -> dict[str, Any]:
        values = {name: spec.default for name, spec in SETTINGS.items()}
        seen: dict[str, Span] = {}
        for setting in settings:
            spec = SETTINGS.get(setting.name)
            if spec is None:
                self._unknown_setting(setting)
                continue
            if setting.more and spec.kind != "universe":
                self._error(f"`{setting.name}` takes one value", setting.more[0].span,
                            f"for example `{spec.example}`; only `universe` lists several")
                continue
            if is_extended(setting, spec):
                continue  # checked by `_risk`, once the params are known
            if setting.name in seen:
                self._error(f"`{setting.name}` is set twice", setting.span,
                            f"it is already set on line {seen[setting.name].line}")
                continue
            seen[setting.name] = setting.span
            value = self._setting_value(spec, setting)
            if value is not None:
                values[setting.name] = value
        return values

    def _risk(self, statements: tuple[ast.Statement, ...],
              settings: dict[str, Any]) -> tuple[dict[str, Any], RiskRules]:
        """Risk settings and statements (tradebot/lang/risk_check.py), params and overrides known."""
        extended = [s for s in statements if isinstance(s, ast.Setting) and s.name in SETTINGS
                    and is_extended(s, SETTINGS[s.name])]
        entering = {s.side for s in statements if isinstance(s, ast.Rule) and s.action == "enter"}
        return check_risk(extended, [s for s in statements if isinstance(s, ast.TimeExit)],
                          [s for s in statements if isinstance(s, ast.EntryOrder)], entering=entering,
                          plain=settings,
                          resolve=lambda expr: self.resolver.bounded(self.resolver.resolve(expr, self.scope()),
                                                                     expr.span),
                          is_percent=self._is_percent, error=self._error, warn=self.warnings.append)

    def _unknown_setting(self, setting: ast.Setting) -> None:
        hint = pine_hint(setting.name, REGISTRY) or did_you_mean(setting.name, SETTINGS)
        if hint is None and setting.name in self.definitions | REGISTRY.keys():
            hint = f"to define a series write `{setting.name} = ...`"
        self._error(f"unknown setting `{setting.name}`", setting.name_span,
                    hint or "settings are: " + ", ".join(SETTINGS))

    def _setting_value(self, spec, setting: ast.Setting) -> Any:
        if spec.kind == "universe":
            return self._universe(setting)
        value = self.resolver.resolve(setting.value, self.scope())
        if is_invalid(value):
            return None
        if not isinstance(value, ir.Const):
            self._error(f"`{spec.name}` must be a constant", setting.value.span, f"for example `{spec.example}`")
            return None
        if spec.kind == "string":
            if value.type.kind is not Kind.STRING:
                self._error(f"`{spec.name}` takes a quoted string", setting.value.span, f"for example `{spec.example}`")
                return None
            return value.value
        if value.type.kind is not Kind.NUMBER:
            self._error(f"`{spec.name}` takes a number", setting.value.span, f"for example `{spec.example}`")
            return None
        if spec.kind == "percent" and not self._is_percent(setting.value):
            self._error(f"`{spec.name}` is a percentage", setting.value.span,
                        f"write the % sign, for example `{spec.example}`")
            return None
        return self._in_bounds(spec, float(value.value), setting.value.span)  # type: ignore[arg-type]

    def _universe(self, setting: ast.Setting) -> str | tuple[str, ...] | None:
        """`universe "glob/*.csv"` (a str) or `universe BTCUSDT, ETHUSDT` (a tuple of symbols, read
        from the candle store). A quoted item that is a symbol name (`"1000PEPEUSDT"`, which a bare
        word cannot be) counts as a symbol; any other quoted text is a glob."""
        items = (setting.value, *setting.more)
        if len(items) == 1 and isinstance(setting.value, ast.String) \
                and not SYMBOL.fullmatch(setting.value.value):
            if not setting.value.value.strip():
                self._error("the universe is empty", setting.value.span,
                            "name symbols (`universe BTCUSDT, ETHUSDT`) or a glob of CSV files")
                return None
            return setting.value.value
        symbols: dict[str, Span] = {}
        for item in items:
            name = item.id if isinstance(item, ast.Name) else item.value if isinstance(item, ast.String) else None
            if not isinstance(name, str) or not SYMBOL.fullmatch(name):
                self._error("a universe lists symbols (`universe BTCUSDT, ETHUSDT`) or one quoted glob "
                            "of CSV files", item.span, 'quote a symbol that starts with a digit: "1000PEPEUSDT"')
                return None
            if name in symbols:
                self._error(f"`{name}` is in the universe twice", item.span,
                            f"it is already listed at column {symbols[name].column}")
                return None
            symbols[name] = item.span
        return tuple(symbols)

    def _in_bounds(self, spec, number: float, span: Span) -> float | None:
        shown = (lambda v: f"{v * 100:g}%") if spec.kind == "percent" else (lambda v: f"{v:g}")
        if spec.minimum is not None and number < spec.minimum:
            low = "more than 0" if spec.minimum > 0 and spec.minimum < 1e-6 else f"at least {shown(spec.minimum)}"
            self._error(f"`{spec.name}` must be {low}, got {shown(number)}", span)
            return None
        if spec.maximum is not None and number > spec.maximum:
            self._error(f"`{spec.name}` must be at most {shown(spec.maximum)}, got {shown(number)}", span,
                        "is the % sign where you meant it?")
            return None
        return number

    def _is_percent(self, node: ast.Expr) -> bool:
        if isinstance(node, ast.Percent):
            return True
        if isinstance(node, ast.Name) and node.id in self.params:
            return self.params[node.id].is_percent
        return any(self._is_percent(c) for c in ast.children(node))  # type: ignore[arg-type]

    # ------------------------------------------------------------ rules
    def _rules(self, rules: list[ast.Rule]) -> dict[str, ir.Node]:
        conditions: dict[str, list[ir.Node]] = {}
        parts: dict[str, list[tuple[float, ir.Node]]] = {"long": [], "short": []}
        for rule in rules:
            cond = self.resolver.bounded(self.resolver.resolve(rule.cond, self.scope()), rule.cond.span)
            portion = self._portion(rule)
            if is_invalid(cond) or portion is None:
                continue
            if cond.type.kind is not Kind.BOOL:
                self._error(f"a rule's condition must be true or false, got a {cond.type.describe()}",
                            rule.cond.span, "compare it, for example `close > sma(close, 20)`")
                continue
            # Several rules for the same action and side: any of them triggers it.
            conditions.setdefault(f"{rule.action}_{rule.side}", []).append(cond)
            if rule.action == "exit":
                parts[rule.side].append((portion, cond))
        self.exit_portions = {side: exit_portion(found) for side, found in parts.items() if found}
        signals = {key: _any_of(conds) for key, conds in conditions.items()}
        for key in SIGNALS:
            signals.setdefault(key, ir.Const(False, BOOL_CONST))
        if not any(isinstance(r, ast.Rule) and r.action == "enter" for r in rules) and not self.errors:
            self.warnings.append(Diagnostic("the script has no `enter` rule, so it never trades",
                                            self.program.span, "add one, e.g. `enter long when ...`",
                                            severity="warning"))
        return signals

    def _portion(self, rule: ast.Rule) -> float | None:
        """The part of the position the rule closes (1.0: all); None after an error."""
        if rule.portion is None:
            return 1.0
        if rule.action == "enter":
            self._error("an entry takes no portion: it opens a position", rule.portion.span,
                        "size entries with `size 50% of equity`; `exit long 50% when ...` closes part")
            return None
        value = self.resolver.resolve(rule.portion, self.scope())
        return check_portion(rule.portion, value, is_percent=self._is_percent(rule.portion),
                             example=f"exit {rule.side} 50% when ...", error=self._error)

    def _unused_function_bodies(self) -> None:
        """A function never called is still checked for unknown names."""
        for func in self.functions.values():
            if func.name in self.resolver.expanded:
                continue  # checked in full where it was called
            local = {p.id for p in func.params}
            for node in ast.walk(func.body):
                name, span = ((node.id, node.span) if isinstance(node, ast.Name)
                              else (node.func, node.func_span) if isinstance(node, ast.Call) else (None, None))
                if name is None or name in local or name in self.definitions or name in REGISTRY \
                        or name in self.broken:
                    continue
                kind = "function" if isinstance(node, ast.Call) else "name"
                self.resolver.error(f"unknown {kind} `{name}`", span,
                                    did_you_mean(name, [*local, *self._known_names()]))

    def _error(self, message: str, span: Span, hint: str | None = None) -> None:
        self.resolver.error(message, span, hint)



def _any_of(conditions: list[ir.Node]) -> ir.Node:
    """`a or b or c …` as a balanced tree: 500 rules for one signal nest 9 levels, not 500."""
    if len(conditions) == 1:
        return conditions[0]
    half = len(conditions) // 2
    left, right = _any_of(conditions[:half]), _any_of(conditions[half:])
    return ir.Op("or", (left, right), left.type.as_series())
