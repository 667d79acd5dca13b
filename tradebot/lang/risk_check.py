"""Risk statements checked into `RiskRules` and the extended settings' values.

    stop_loss 2%                         stop_loss long at lowest(low, 10)
    take_profit short 3 * atr(14)        trailing_stop 1.5%        break_even 1%
    exit after 24 bars                   enter long at limit close * 0.99 expire 3 bars
    size risk 1% to stop                 fee 1 per order           fill open_proximity

The checker hands over every setting whose spec is extended (sided, with forms, or of an extended
kind; tradebot/lang/settings.py) or that was written with a side, `at`/`risk` or unit words, plus
the `exit ... after` and `enter ... at` statements. It calls `check_risk` once the params are
known (with `--set` overrides applied), so risk values may be params and an optimizer may vary
them. Errors and warnings go to the checker's sinks, listed with every other error of the script.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from . import ast, ir
from .ast import Span
from .diagnostics import Diagnostic, did_you_mean
from .resolve import MAX_WHOLE, is_invalid
from ..market.vocab import MAX_RUNGS
from .portions import check_portion
from .settings import SETTINGS, SettingForm, SettingSpec
from .types import Kind
from .unparse import expr as unparse_expr

SIDES = ("long", "short")
LEVELS = ("stop_loss", "take_profit", "trailing_stop", "break_even")
ErrorSink = Callable[[str, Span, "str | None"], None]


@dataclass(frozen=True)
class RiskLevel:
    """A stop, target, trailing distance or break-even trigger of one side.

    mode "percent": `value` is a constant fraction of the entry price; "distance": a price
    distance (a constant or a series); "price": an absolute price (`at`). A series is read on the
    bar whose signal placed the entry.
    """

    mode: str
    value: ir.Node
    span: Span = field(default=ast.NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class EntryOrderSpec:
    """`enter SIDE at limit|stop PRICE [expire N bars]`."""

    kind: str  # "limit" | "stop"
    price: ir.Node
    expire: int | None
    span: Span = field(default=ast.NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Rung:
    """`take_profit long 2% exit 50%`: `portion` of each entry gets its own constant target."""

    level: RiskLevel
    portion: float
    span: Span = field(default=ast.NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class SideRisk:
    """The risk rules of one side."""

    levels: Mapping[str, RiskLevel] = field(default_factory=dict)  # keys from LEVELS
    exit_after: int | None = None
    entry: EntryOrderSpec | None = None
    # The portion the side's exit rules close per bar (None: everything; tradebot/lang/portions.py).
    exit_portion: ir.Node | None = None
    ladder: tuple[Rung, ...] = ()  # laddered targets, in the order written


@dataclass(frozen=True)
class RiskRules:
    """The risk rules of both sides (empty when the script has none)."""

    long: SideRisk = field(default_factory=SideRisk)
    short: SideRisk = field(default_factory=SideRisk)

    def side(self, name: str) -> SideRisk:
        return self.long if name == "long" else self.short


def is_extended(setting: ast.Setting, spec: SettingSpec) -> bool:
    """Is this setting checked here rather than by the checker's plain-setting path?"""
    return spec.extended or bool(setting.side or setting.mark or setting.units)


def form_defaults() -> dict[str, Any]:
    """The settings values of every extended spec and form before the script sets any (a new
    dict: the checker updates it)."""
    return dict(_FORM_DEFAULTS)


def _form_defaults() -> dict[str, Any]:
    values = {name: spec.default for name, spec in SETTINGS.items()
              if spec.extended and spec.kind not in ("level", "price")}
    for spec in SETTINGS.values():
        values.update({form.key: form.default for form in spec.forms if form.kind not in ("level", "price")})
    return values


_FORM_DEFAULTS = _form_defaults()  # the registry is fixed: a sweep checks it once, not per trial


def check_risk(settings: list[ast.Setting], time_exits: list[ast.TimeExit],
               entries: list[ast.EntryOrder], *, entering: set[str], plain: Mapping[str, Any],
               resolve: Callable[[ast.Expr], ir.Node], is_percent: Callable[[ast.Expr], bool],
               error: ErrorSink, warn: Callable[[Diagnostic], None]) -> tuple[dict[str, Any], RiskRules]:
    """(settings values, risk rules) of a script's risk statements; `entering` holds the sides
    that have an `enter ... when` rule, `plain` the values of the other settings."""
    checker = _RiskChecker(resolve, is_percent, error, warn)
    checker.values = {**plain, **checker.values}
    for setting in settings:
        checker.setting(setting)
    for stmt in time_exits:
        checker.time_exit(stmt)
    for stmt in entries:
        checker.entry_order(stmt)
    checker.cross_checks(entering)
    return checker.values, checker.rules()


class _RiskChecker:
    def __init__(self, resolve: Callable[[ast.Expr], ir.Node], is_percent: Callable[[ast.Expr], bool],
                 error: ErrorSink, warn: Callable[[Diagnostic], None]) -> None:
        self.resolve, self.is_percent, self.error, self.warn = resolve, is_percent, error, warn
        self.values: dict[str, Any] = form_defaults()
        self.seen: dict[tuple[str, str], Span] = {}  # (key, side or "") -> where it was set
        self.where: dict[str, ast.Setting] = {}  # key -> the statement that set it
        self.levels: dict[str, dict[str, RiskLevel]] = {side: {} for side in SIDES}
        self.exit_after: dict[str, int] = {}
        self.entries: dict[str, EntryOrderSpec] = {}
        self.ladders: dict[str, list[Rung]] = {side: [] for side in SIDES}

    def rules(self) -> RiskRules:
        sides = {side: SideRisk(self.levels[side], self.exit_after.get(side), self.entries.get(side),
                                ladder=tuple(self.ladders[side])) for side in SIDES}
        return RiskRules(**sides)

    # ------------------------------------------------------------ settings
    def setting(self, setting: ast.Setting) -> None:
        spec = SETTINGS[setting.name]
        form = self._form(setting, spec)
        if form is None or not self._side_ok(setting, spec):
            return
        kind, key = (form.kind, form.key) if isinstance(form, SettingForm) else (spec.kind, spec.name)
        sides = (setting.side,) if setting.side else (SIDES if spec.sided else ("",))
        if setting.portion is not None:
            self._rung(setting, form, kind, sides)
            return
        if not self._first_time(setting, key, sides):
            return
        value = self._value(setting, form if isinstance(form, SettingForm) else spec, kind)
        if value is None:
            return
        self.where[key] = setting
        if kind in ("level", "price"):
            for side in sides:
                self.levels[side][key] = value
        elif isinstance(form, SettingForm) and form.tag:
            self.values[key] = (form.tag, value)
        else:
            self.values[key] = value

    def _form(self, setting: ast.Setting, spec: SettingSpec) -> SettingSpec | SettingForm | None:
        """The form the setting is written in, or None after reporting why it fits none."""
        written = " ".join(setting.units)
        candidates: list[SettingSpec | SettingForm] = [] if spec.kind == "form" else [spec]
        candidates += list(spec.forms)
        for form in candidates:
            unit = form.unit if isinstance(form, SettingForm) else ""
            mark = form.mark if isinstance(form, SettingForm) else None
            if mark == setting.mark and _same_unit(written, unit):
                return form
        self._no_form(setting, spec, written)
        return None

    def _no_form(self, setting: ast.Setting, spec: SettingSpec, written: str) -> None:
        examples = [spec.example] if spec.kind != "form" else []
        examples += [form.example for form in spec.forms]
        forms = " or ".join(f"`{e}`" for e in examples)
        marked = [f for f in spec.forms if setting.mark and f.mark == setting.mark]
        if setting.mark and not marked:
            what = {"at": "a price level", "risk": "a risk amount", "by": "a ranking"}[setting.mark]
            span = setting.value.span
            self.error(f"`{spec.name}` does not take {what} (`{setting.mark}`)", span, f"write {forms}")
        elif marked and marked[0].unit:
            where = setting.units_span if written else setting.span
            self.error(f"`{spec.name} {setting.mark} …` ends with `{marked[0].unit}`", where,
                       f"write `{marked[0].example}`")
        elif not setting.mark and spec.kind == "form" and all(f.mark for f in spec.forms):
            self.error(f"`{spec.name}` is followed by `{spec.forms[0].mark}`", setting.value.span,
                       f"write {forms}")
        elif not written and spec.kind == "form":
            self.error(f"say what the {spec.name} is measured in", setting.span, f"write {forms}")
        else:
            units = [f.unit for f in spec.forms if f.unit]
            hint = did_you_mean(written, units) if units and written else None
            where = setting.units_span if written else setting.span
            message = (f"`{spec.name}` takes no unit word after its value" if not units and written
                       else f"`{spec.name} … {written}` is not a form of `{spec.name}`")
            self.error(message, where, hint or f"write {forms}")

    def _side_ok(self, setting: ast.Setting, spec: SettingSpec) -> bool:
        if setting.side and not spec.sided:
            self.error(f"`{spec.name}` applies to both sides; it takes no `{setting.side}`", setting.span,
                       f"write `{spec.example}`")
            return False
        return True

    def _first_time(self, setting: ast.Setting, key: str, sides: tuple[str, ...]) -> bool:
        return self._once(f"`{setting.name}` is set twice", key, setting.span, sides)

    def _once(self, message: str, key: str, span: Span, sides: tuple[str, ...]) -> bool:
        """Record that `key` is given for `sides`; report it if one of them already has it."""
        for side in sides:
            earlier = self.seen.get((key, side))
            if earlier is None:
                continue
            # Spans compare equal to any span, so identity tells one statement for both sides.
            both = self.seen.get((key, SIDES[1 - SIDES.index(side)] if side else "")) is earlier
            where = f"for both sides on line {earlier.line}" if side and both else f"on line {earlier.line}"
            hint = f"it is already given {where}"
            self.error(message, span, hint + ("; give each side its own line" if side and both else ""))
            return False
        for side in sides:
            self.seen[(key, side)] = span
        return True

    def _value(self, setting: ast.Setting, form: SettingSpec | SettingForm, kind: str) -> Any:
        node = setting.value
        if kind == "choice":
            return self._choice(setting, form)  # type: ignore[arg-type]
        value = self.resolve(node)
        if is_invalid(value):
            return None
        if value.type.kind is not Kind.NUMBER:
            self.error(f"`{setting.name}` takes a number, got a {value.type.describe()}", node.span,
                       f"for example `{form.example}`")
            return None
        if kind in ("level", "price"):
            return self._level(setting, form, kind, value)
        if kind == "series":
            return value
        if not isinstance(value, ir.Const):
            self.error(f"`{setting.name}` must be a constant", node.span, f"for example `{form.example}`")
            return None
        number = float(value.value)  # type: ignore[arg-type]
        if kind == "percent" and not self.is_percent(node):
            self.error(f"`{setting.name}` is a percentage", node.span,
                       f"write the % sign, for example `{form.example}`")
            return None
        if kind == "whole" and not number.is_integer():  # (int(inf) would raise)
            self.error(f"`{setting.name}` takes a whole number, got {number:g}", node.span)
            return None
        if not self._in_bounds(setting, form, number, percent=kind == "percent"):
            return None
        return int(number) if kind == "whole" else number

    def _choice(self, setting: ast.Setting, spec: SettingSpec) -> str | None:
        node = setting.value
        word = node.id if isinstance(node, ast.Name) else None
        if word in spec.choices:
            return word
        hint = did_you_mean(word, spec.choices) if word else None
        self.error(f"`{spec.name}` is one of {', '.join(spec.choices)}", node.span,
                   hint or f"for example `{spec.example}`")
        return None

    def _level(self, setting: ast.Setting, form, kind: str, value: ir.Node) -> RiskLevel | None:
        node, constant = setting.value, isinstance(value, ir.Const)
        percent = constant and self.is_percent(node)
        if kind == "price":
            if percent:
                self.error(f"`{setting.name} at` takes a price, and {_shown(value, True)} is a "
                           "percentage", node.span, f"for a distance drop `at`: `{setting.name} {unparse_expr(node)}`")
                return None
            if constant and not self._positive(setting, value, percent=False):
                return None
            return RiskLevel("price", value, setting.span)
        if constant and not self._positive(setting, value, percent=percent):
            return None
        # The bounds are a percentage's (a 100 % stop is no stop); a price distance has none.
        if percent and not self._in_bounds(setting, form, float(value.value), percent=True):
            return None
        return RiskLevel("percent" if percent else "distance", value, setting.span)

    def _positive(self, setting: ast.Setting, value: ir.Const, *, percent: bool) -> bool:
        if float(value.value) > 0:  # type: ignore[arg-type]
            return True
        self.error(f"`{setting.name}` must be more than 0, got {_shown(value, percent)}", setting.value.span)
        return False

    def _in_bounds(self, setting: ast.Setting, form, number: float, *, percent: bool) -> bool:
        shown = (lambda v: f"{v * 100:g}%") if percent else (lambda v: f"{v:g}")
        if form.minimum is not None and number < form.minimum:
            low = "more than 0" if 0 < form.minimum < 1e-6 else f"at least {shown(form.minimum)}"
            self.error(f"`{setting.name}` must be {low}, got {shown(number)}", setting.value.span)
            return False
        if form.maximum is not None and number > form.maximum:
            self.error(f"`{setting.name}` must be at most {shown(form.maximum)}, got {shown(number)}",
                       setting.value.span, "is the % sign where you meant it?" if percent else None)
            return False
        return True

    def _rung(self, setting: ast.Setting, form, kind: str, sides: tuple[str, ...]) -> None:
        """One rung of a laddered target: `take_profit long 2% exit 50%` (docs/execution.md)."""
        example = "take_profit long 2% exit 50%"
        if setting.name != "take_profit":
            self.error(f"only a target closes part of the position: `{setting.name}` closes all of it",
                       setting.portion.span, f"drop `exit …`, or write a rung as `{example}`")  # type: ignore[union-attr]
            return
        portion = check_portion(setting.portion, self.resolve(setting.portion),  # type: ignore[arg-type]
                                is_percent=self.is_percent(setting.portion), example=example,  # type: ignore[arg-type]
                                error=self.error)
        level = self._value(setting, form, kind)
        if portion is None or level is None:
            return
        if kind == "price" or not isinstance(level.value, ir.Const):
            self.error("a rung's target is a constant percentage or price distance from the entry",
                       setting.value.span, f"for example `{example}` (a param works too)")
            return
        for side in sides:
            rungs = self.ladders[side]
            if len(rungs) == MAX_RUNGS:
                self.error(f"a side has at most {MAX_RUNGS} laddered targets", setting.span,
                           "the last target without `exit …` closes what the rungs leave")
                return
            closed = sum(r.portion for r in rungs) + portion
            if closed > 1.0 + 1e-9:
                self.error(f"the {side} ladder's targets close {closed * 100:g}% of an entry: more than all of it",
                           setting.portion.span,  # type: ignore[union-attr]
                           f"their portions may add up to at most 100% (rungs on lines "
                           f"{', '.join(str(r.span.line) for r in rungs)})")
                return
            rungs.append(Rung(level, portion, setting.span))

    # ------------------------------------------------------------ statements
    def time_exit(self, stmt: ast.TimeExit) -> None:
        if stmt.action != "exit":
            self.error("a time limit is an exit", stmt.span, "write `exit after 24 bars`")
            return
        bars = self._whole_bars(stmt.bars, "`exit … after`")
        sides = (stmt.side,) if stmt.side else SIDES
        if bars is None or not self._first_time_statement("exit … after", stmt.span, sides):
            return
        for side in sides:
            self.exit_after[side] = bars

    def entry_order(self, stmt: ast.EntryOrder) -> None:
        if stmt.action != "enter":
            self.error("`exit … at` is not an order: exits at a price are stops and targets", stmt.span,
                       f"write `stop_loss {stmt.side} at PRICE` or `take_profit {stmt.side} at PRICE`")
            return
        price = self.resolve(stmt.price)
        expire = None if stmt.expire is None else self._whole_bars(stmt.expire, "`expire`")
        if is_invalid(price) or (stmt.expire is not None and expire is None):
            return
        if price.type.kind is not Kind.NUMBER:
            self.error(f"an order's price must be a number, got a {price.type.describe()}",
                       stmt.price.span, "for example `close * 0.99`")
            return
        if self._first_time_statement(f"enter {stmt.side} at", stmt.span, (stmt.side,)):
            self.entries[stmt.side] = EntryOrderSpec(stmt.kind, price, expire, stmt.span)

    def _whole_bars(self, node: ast.Expr, what: str) -> int | None:
        value = self.resolve(node)
        if is_invalid(value):
            return None
        if not (isinstance(value, ir.Const) and value.type.kind is Kind.NUMBER
                and float(value.value).is_integer() and 1 <= value.value <= MAX_WHOLE):  # type: ignore[arg-type,operator]
            self.error(f"{what} takes a constant whole number of bars, from 1 to {MAX_WHOLE:,}", node.span,
                       "for example `exit after 24 bars` (a param works too)")
            return None
        return int(value.value)  # type: ignore[arg-type]

    def _first_time_statement(self, what: str, span: Span, sides: tuple[str, ...]) -> bool:
        return self._once(f"`{what}` is given twice", what, span, sides)

    # ------------------------------------------------------------ script-wide checks
    def cross_checks(self, entering: set[str]) -> None:
        self._risk_sizing_has_stops(entering)
        self._ladder_leaves_something()
        self._ticks_have_a_tick_size()
        self._size_within_leverage()
        self._portfolio_settings_have_a_universe()
        for side, entry in self.entries.items():
            if side not in entering:
                self._warning(f"`enter {side} at {entry.kind} …` says how {side} entries are placed, "
                              f"but no `enter {side} when …` rule places one", entry.span,
                              f"add `enter {side} when CONDITION`")
        for name in ("stop_loss", "take_profit"):
            setting = self.where.get(name)
            if (setting is not None and setting.mark == "at" and not setting.side
                    and entering >= set(SIDES)):
                self._warning(f"`{name} at …` without a side applies one price to longs and shorts",
                              setting.span, f"a level that suits a long rarely suits a short: write "
                              f"`{name} long at …` and `{name} short at …`")
        if self.values.get("pyramiding", 1) > 1 and self.values.get("size") == ("equity", 1.0):
            setting = self.where["pyramiding"]
            self._warning("with all the equity in the first entry, added entries find nothing left "
                          "to buy with", setting.span, "size each entry, e.g. `size 25% of equity`")

    def _ladder_leaves_something(self) -> None:
        """A plain target beside a ladder closing 100% has nothing left to close."""
        for side in SIDES:
            rungs = self.ladders[side]
            target = self.levels[side].get("take_profit")
            if rungs and target is not None and sum(r.portion for r in rungs) >= 1.0 - 1e-9:
                self.error(f"the {side} ladder already closes 100% of each entry, so this target has "
                           "nothing left to close", target.span,
                           "lower a rung's portion, or drop this target")

    def _risk_sizing_has_stops(self, entering: set[str]) -> None:
        if self.values.get("size", ("",))[0] != "risk":
            return
        missing = [side for side in SIDES if side in entering and "stop_loss" not in self.levels[side]]
        if missing:
            self.error(f"`size risk … to stop` sizes from the stop loss, but {' and '.join(missing)} "
                       "entries have none", self.where["size"].span,
                       f"add `stop_loss {missing[0]} 2%` (or `stop_loss 2%` for both sides)")

    def _portfolio_settings_have_a_universe(self) -> None:
        if self.values.get("universe") is not None:
            return
        for key in ("max_positions", "rank"):
            if key in self.where:
                self._warning(f"`{key}` applies to a universe of symbols, and the script names none",
                           self.where[key].span,
                           'add `universe "../data/*/1h.csv"` (a glob of CSV files), or drop it')

    def _ticks_have_a_tick_size(self) -> None:
        if self.values.get("tick_size") is not None:
            return
        for key in ("slippage_ticks", "spread_ticks"):
            if key in self.where:
                self.error("a value in ticks needs the instrument's tick size", self.where[key].span,
                           "add `tick_size 0.00001` (the smallest price step)")

    def _size_within_leverage(self) -> None:
        mode, amount = self.values.get("size", ("equity", 1.0))
        leverage = self.values.get("leverage", 1.0)
        if mode == "equity" and amount > leverage + 1e-12:
            self.error(f"`size {amount * 100:g}% of equity` needs more than the leverage allows "
                       f"({leverage:g})", self.where["size"].span,
                       f"add `leverage {amount:g}` or size at most {leverage * 100:g}% of equity")

    def _warning(self, message: str, span: Span, hint: str) -> None:
        self.warn(Diagnostic(message, span, hint, severity="warning"))


def _same_unit(written: str, unit: str) -> bool:
    """`tick` for `ticks`, `unit` for `units`: a one-word unit may be singular."""
    return written == unit or (" " not in unit and unit.endswith("s") and written == unit[:-1])


def _shown(value: ir.Const, percent: bool) -> str:
    number = float(value.value)  # type: ignore[arg-type]
    return f"{number * 100:g}%" if percent else f"{number:g}"


