"""A `param` declaration checked: its default, its range or choices, and the values `--set` or a
sweep give it (`apply_overrides`). What a param is, once checked, is params.py's `ParamInfo`;
the checker (checker.py) calls these for each declaration, reporting errors through its sink.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Mapping

from . import ast, unparse
from .ast import Span
from .diagnostics import did_you_mean
from .params import ParamInfo, number_text


ErrorSink = Callable[[str, Span, str | None], None]  # message, where, hint


class OverrideError(Exception):
    """A `--set name=value` that does not fit the script (the CLI turns it into a usage error)."""


def param_info(decl: ast.ParamDecl, error: ErrorSink) -> ParamInfo | None:
    """The param `decl` declares, or None after reporting to `error` why it cannot be one."""
    if isinstance(decl.default, (ast.Bool, ast.String)):
        return _labelled_param(decl, error)
    default, is_int, is_percent = _literal(decl.default, error)
    if default is None:
        return None
    info = ParamInfo(decl.name, default, default, is_int, is_percent, span=decl.span)
    domain = decl.domain
    if isinstance(domain, ast.ParamRange):
        return _param_range(decl, info, domain, error)
    if isinstance(domain, ast.ParamChoices):
        return _param_choices(decl, info, domain, error)
    return info


def _labelled_param(decl: ast.ParamDecl, error: ErrorSink) -> ParamInfo | None:
    """`param use_filter = true` (searched over false and true unless `in [...]` narrows it)
    or `param mode = "a" in ["a", "b"]` (a string param lists its choices)."""
    kind = type(decl.default)
    listed = decl.domain.values if isinstance(decl.domain, ast.ParamChoices) else None
    if isinstance(decl.domain, ast.ParamRange) or (listed and any(type(v) is not kind for v in listed)):
        word = "true or false" if kind is ast.Bool else "strings"
        error(f"the choices of `{decl.name}` must be {word}, as its default", decl.domain.span,
              'for example `param mode = "breakout" in ["breakout", "pullback"]`')
        return None
    if kind is ast.String and listed is None:
        error(f"a string param lists its choices: `{decl.name}` has none", decl.span,
              f'for example `param {decl.name} = {unparse.expr(decl.default)} in '
              f'[{unparse.expr(decl.default)}, "other"]`')
        return None
    labels: tuple[bool | str, ...] = ((False, True) if kind is ast.Bool else
                                      tuple(dict.fromkeys(v.value for v in listed)))  # type: ignore[union-attr]
    chosen = (tuple(float(labels.index(v.value)) for v in listed)  # type: ignore[union-attr]
              if listed else tuple(float(i) for i in range(len(labels))))
    default = decl.default.value  # type: ignore[union-attr]
    code = float(labels.index(default)) if default in labels else -1.0
    info = ParamInfo(decl.name, code, code, True, False, choices=tuple(sorted(set(chosen))),
                     span=decl.span, labels=labels)
    if not info.admits(code):
        error(f"the default {unparse.expr(decl.default)} of `{decl.name}` is not one of its "
              f"choices {info.domain_text()}", decl.default.span)
        return None
    return info


def _literal(node: ast.Expr, error: ErrorSink) -> tuple[float | None, bool, bool]:
    """A param's default or bound: a plain (possibly negative) number or percentage."""
    sign = 1.0
    if isinstance(node, ast.Unary) and node.op == "neg":
        sign, node = -1.0, node.operand
    if isinstance(node, ast.Number):
        return sign * node.value, node.is_int, False
    if isinstance(node, ast.Percent):
        return sign * node.value, False, True
    error("a param's default, bounds and choices are plain numbers", node.span,
          "for example `param length = 14 in 5..30 step 1`")
    return None, False, False


def _param_range(decl: ast.ParamDecl, info: ParamInfo, domain: ast.ParamRange,
                 error: ErrorSink) -> ParamInfo | None:
    low, low_int, _ = _literal(domain.low, error)
    high, high_int, _ = _literal(domain.high, error)
    step, step_int = (None, True) if domain.step is None else _literal(domain.step, error)[:2]
    if low is None or high is None or (domain.step is not None and step is None):
        return None
    is_int = info.is_int and low_int and high_int and step_int
    if low > high:
        error(f"the range of `{decl.name}` is empty: {low:g} > {high:g}", domain.span,
              "write the lower bound first")
        return None
    if step is not None and step <= 0:
        error(f"the step of `{decl.name}` must be positive, got {step:g}", domain.step.span)
        return None
    info = ParamInfo(decl.name, info.default, info.value, is_int, info.is_percent, low, high, step,
                     span=decl.span)
    if not info.admits(info.default):
        error(f"the default {number_text(info.default, is_int)} of `{decl.name}` is outside its range "
              f"{info.domain_text()}", decl.default.span,
              "a plain run uses the default, so it must be one of the values searched")
        return None
    return info


def _param_choices(decl: ast.ParamDecl, info: ParamInfo, domain: ast.ParamChoices,
                   error: ErrorSink) -> ParamInfo | None:
    values = [_literal(v, error) for v in domain.values]
    if any(v[0] is None for v in values):
        return None
    is_int = info.is_int and all(v[1] for v in values)
    choices = tuple(v[0] for v in values)
    info = ParamInfo(decl.name, info.default, info.value, is_int, info.is_percent, choices=choices, span=decl.span)
    if not info.admits(info.default):
        error(f"the default {number_text(info.default, is_int)} of `{decl.name}` is not one of its choices "
              f"{info.domain_text()}", decl.default.span)
        return None
    return info


def apply_overrides(params: Mapping[str, ParamInfo], overrides: Mapping[str, object]) -> dict[str, ParamInfo]:
    """`params` with the values `--set` (or a sweep) gives them; OverrideError for a value that
    does not fit its param's domain, or a name the script does not declare."""
    params = dict(params)
    for name, given in overrides.items():
        info = params.get(name)
        if info is None:
            hint = did_you_mean(name, params)
            known = ", ".join(params) or "none"
            raise OverrideError(f"--set {name}: the script has no param `{name}`"
                                + (f"; {hint}" if hint else f" (its params: {known})"))
        value = info.code_of(given)
        if value is None or not info.admits(value) or not info.on_step(value):
            numeric = value is not None and info.labels is None
            shown = (str(given).lower() if isinstance(given, bool) else info.written(value) if numeric
                     else given)
            kind = "one of " if info.labels is not None else "a whole number in " if info.is_int else ""
            reason = f"`{given}` is not a number; " if isinstance(given, str) and info.labels is None else ""
            nearest = info.nearest_steps(value) if numeric else []  # type: ignore[arg-type]
            hint = f"; nearest allowed: {' or '.join(f'{name}={v}' for v in nearest)}" if nearest else ""
            raise OverrideError(f"--set {name}={shown}: {reason}`{name}` takes {kind}{info.domain_text()} "
                                f"(declared on line {info.span.line}){hint}")
        params[name] = replace(info, value=value)
    return params
