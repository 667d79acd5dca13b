"""Source → AST: Lark's tree transformed into frozen dataclasses, syntax errors into diagnostics.

Syntax errors are collected across the whole script: when the full parse fails, each top-level
statement is parsed once on its own (recovery.py), so one typo does not hide the next, and the
statements that parse go on to the checker (SyntaxDiagnostics.partial).
"""
from __future__ import annotations

import difflib
import math
import re
from lark import Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from . import ast
from .ast import Span
from .diagnostics import Diagnostic, ScriptDiagnostics, did_you_mean
from .builtins import REGISTRY
from .grammar import KEYWORDS, get_parser
from .library.pine_names import dotted_name_at, pine_hint
from .parse_messages import describe_expected, describe_token, friendly_hint
from .settings import SETTINGS
from .recovery import (MAX_NESTING, Chunk, defined_name, nesting_diagnostic, shift_diagnostic, shift_tree,
                       statement_chunks, tree_depth)


def span_of(item: Token | Tree | object) -> Span:
    meta = item if isinstance(item, Token) else getattr(item, "meta", item)
    return Span(meta.line, meta.column, meta.end_line, meta.end_column, meta.start_pos, meta.end_pos)


class ReservedWordError(Exception):
    def __init__(self, token: Token) -> None:
        self.token = token


def _ident(token: Token) -> str:
    if str(token) in KEYWORDS:
        raise ReservedWordError(token)
    return str(token)


class NumberTooLargeError(Exception):
    def __init__(self, token: Token) -> None:
        self.token = token


def _number(token: Token) -> ast.Number:
    """A literal as a float; beyond the largest float (about 1.8e308) it is an error, not `inf`
    (and a 4,300-digit integer is never handed to `int`, which refuses it)."""
    clean = str(token).replace("_", "")
    is_int = re.fullmatch(r"\d+", clean) is not None
    try:
        value = float(int(clean)) if is_int and len(clean) <= 400 else float(clean)
    except (OverflowError, ValueError):
        value = float("inf")
    if not math.isfinite(value):
        raise NumberTooLargeError(token)
    return ast.Number(value, is_int)


_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def _is_unit(setting: str, value: ast.OfSymbol) -> bool:
    """Whether `of WORD` after a setting's value is one of its unit forms (`size 50% of equity`)."""
    spec = SETTINGS.get(setting)
    words = f"of {value.symbol}"
    return not value.quoted and spec is not None and any(
        f.unit == words or f.unit.startswith(words + " ") for f in spec.forms)


@v_args(meta=True, inline=True)
class ToAst(Transformer):
    """Lark tree → ast dataclasses, with each node's span from Lark's positions."""

    def start(self, meta, *statements):
        return ast.Program(tuple(s for s in statements if s is not None), span_of(meta) if statements else ast.NOWHERE)

    # ---- statements
    def strategy_decl(self, meta, name):
        return ast.StrategyDecl(_unquote(name), span_of(meta))

    def setting(self, meta, name, side, mark, value, *rest):
        *rest, portion = rest  # `["exit" portion]` is always there, None when not written
        more = tuple(item for item in rest if not isinstance(item, Token))
        units = [item for item in rest if isinstance(item, Token)]
        if not more and isinstance(value, ast.OfSymbol) and _is_unit(str(name), value):
            # `size 50% of equity`: `of` and the word after it are unit words, not a symbol
            units = [Token("NAME", "of", start_pos=value.word_span.start, line=value.word_span.line,
                           column=value.word_span.column, end_line=value.word_span.end_line,
                           end_column=value.word_span.end_column, end_pos=value.word_span.end),
                     Token("NAME", value.symbol, start_pos=value.symbol_span.start,
                           line=value.symbol_span.line, column=value.symbol_span.column,
                           end_line=value.symbol_span.end_line, end_column=value.symbol_span.end_column,
                           end_pos=value.symbol_span.end), *units]
            value = value.expr
        units_span = span_of(units[0]).merge(span_of(units[-1])) if units else ast.NOWHERE
        return ast.Setting(_ident(name), value, span_of(meta), span_of(name), side, mark,
                           tuple(str(u) for u in units), units_span, more, portion)

    def time_exit(self, meta, action, side, bars):
        return ast.TimeExit(action, side, bars, span_of(meta))

    def entry_order(self, meta, action, side, _at, kind, price, expire):
        return ast.EntryOrder(action, side, kind, price, expire, span_of(meta))

    def param_decl(self, meta, name, default, domain):
        return ast.ParamDecl(_ident(name), default, domain, span_of(meta), span_of(name))

    def param_range(self, meta, low, high, step):
        return ast.ParamRange(low, high, step, span_of(meta))

    def param_choices(self, meta, *values):
        return ast.ParamChoices(tuple(values), span_of(meta))

    def assignment(self, meta, name, value, start):
        return ast.Assign(_ident(name), value, span_of(meta), span_of(name), start)

    def funcdef(self, meta, name, *rest):
        *params, body = rest
        names = tuple(ast.Name(_ident(p), span_of(p)) for p in params if p is not None)
        return ast.FuncDef(_ident(name), names, body, span_of(meta), span_of(name))

    def rule(self, meta, action, side, portion, cond):
        return ast.Rule(action, side, cond, span_of(meta), portion)

    def action(self, meta, token):
        return str(token)

    side = action
    cross_dir = action
    setting_mark = action
    order_kind = action
    goal = action

    # ---- optimize
    def optimize_decl(self, meta, goal, objective, *clauses):
        return ast.Optimize(goal, str(objective), tuple(clauses), span_of(meta), span_of(objective))

    def opt_method(self, meta, name):
        return ast.OptimizeClause("by", str(name), None, span=span_of(meta), word_span=span_of(name))

    def _opt_count(self, keyword, meta, token):
        n = _number(token)
        number = ast.Number(n.value, n.is_int, span_of(token))
        return ast.OptimizeClause(keyword, None, number, span=span_of(meta))

    def opt_trials(self, meta, token):
        return self._opt_count("trials", meta, token)

    def opt_seed(self, meta, token):
        return self._opt_count("seed", meta, token)

    def opt_min_trades(self, meta, token):
        return self._opt_count("min_trades", meta, token)

    def opt_where(self, meta, cond):
        return ast.OptimizeClause("where", None, cond, span=span_of(meta))

    def opt_validate(self, meta, kind, amount, mode=None):
        value = (self.percent(meta, amount) if amount.type == "PERCENT" else self.number(meta, amount))
        return ast.OptimizeClause("validate", str(kind), value, str(mode) if mode is not None else None,
                                  span_of(meta), span_of(kind),
                                  span_of(mode) if mode is not None else ast.NOWHERE)

    # ---- expressions
    def if_else(self, meta, cond, then, otherwise):
        return ast.IfElse(cond, then, otherwise, span_of(meta))

    def or_(self, meta, left, right):
        return ast.Binary("or", left, right, span_of(meta))

    def and_(self, meta, left, right):
        return ast.Binary("and", left, right, span_of(meta))

    def not_(self, meta, operand):
        return ast.Unary("not", operand, span_of(meta))

    def held_for(self, meta, cond, bars):
        return ast.Streak("for", cond, bars, span_of(meta))

    def held_within(self, meta, cond, bars):
        return ast.Streak("within", cond, bars, span_of(meta))

    def compare(self, meta, left, op, right):
        return ast.Binary(str(op), left, right, span_of(meta))

    def crosses(self, meta, left, direction, right):
        return ast.Crosses(direction, left, right, span_of(meta))

    def binary(self, meta, left, op, right):
        return ast.Binary(str(op), left, right, span_of(meta))

    def neg(self, meta, operand):
        return ast.Unary("neg", operand, span_of(meta))

    def pow(self, meta, base, exponent):
        return ast.Binary("^", base, exponent, span_of(meta))

    def call(self, meta, callee, arguments):
        if not isinstance(callee, ast.Name):
            raise _NotCallable(callee)
        args = tuple(arguments) if arguments is not None else ()
        return ast.Call(callee.id, args, span_of(meta), callee.span)

    def arguments(self, meta, *args):
        return tuple(a if isinstance(a, ast.Arg) else ast.Arg(None, a, a.span) for a in args)

    def named_arg(self, meta, name, value):
        return ast.Arg(_ident(name), value, span_of(meta))

    def history(self, meta, target, offset):
        return ast.History(target, offset, span_of(meta))

    def field(self, meta, target, name):
        return ast.Field(target, str(name), span_of(meta))

    def at_timeframe(self, meta, expr, timeframe):
        return ast.AtTimeframe(expr, str(timeframe), span_of(meta))

    def of_symbol(self, meta, expr, word, symbol):
        quoted = symbol.type == "STRING"
        return ast.OfSymbol(expr, _unquote(str(symbol)) if quoted else str(symbol), span_of(meta),
                            span_of(symbol), quoted, span_of(word))

    def number(self, meta, token):
        n = _number(token)
        return ast.Number(n.value, n.is_int, span_of(token))

    def percent(self, meta, token):
        value = float(str(token)[:-1].replace("_", "")) / 100.0
        if not math.isfinite(value):
            raise NumberTooLargeError(token)
        return ast.Percent(value, str(token), span_of(token))

    def string(self, meta, token):
        return ast.String(_unquote(str(token)), span_of(token))

    def true(self, meta):
        return ast.Bool(True, span_of(meta))

    def false(self, meta):
        return ast.Bool(False, span_of(meta))

    def name(self, meta, token):
        return ast.Name(_ident(token), span_of(token))


class _NotCallable(Exception):
    def __init__(self, node: object) -> None:
        self.node = node


# ------------------------------------------------------------------ errors


def _point(source: str, line: int, column: int, width: int = 1) -> Span:
    offsets = [0]
    for text in source.splitlines(keepends=True):
        offsets.append(offsets[-1] + len(text))
    start = offsets[min(line - 1, len(offsets) - 1)] + column - 1
    return Span(line, column, line, column + width, start, start + width)


def _parse_script(text: str) -> Tree:
    return get_parser().parse(text, start="start")


def syntax_diagnostic(error: UnexpectedInput, source: str) -> Diagnostic:
    """A friendly diagnostic for one Lark syntax error; the plain one (where, and the token) when
    the friendly wording fails in any way: a bug there must not hide the user's error."""
    _blame_the_condition(error)
    try:
        return _friendly_diagnostic(error, source)
    except Exception:  # noqa: BLE001 - any failure of the wording falls back to the plain error
        return plain_syntax_diagnostic(error, source)


def _blame_the_condition(error: UnexpectedInput) -> None:
    """`enter long close > open`: the parser took `close` for an exit's portion (`exit long half
    when …`) and stopped at `>`; the mistake is where the condition starts, so point there."""
    history = getattr(error, "token_history", None) or []
    if (isinstance(error, UnexpectedToken) and "WHEN" in error.expected
            and set(error.expected) <= {"WHEN", "_NL"} and history and history[-1].type == "NAME"):
        error.token = history[-1]
        error.line, error.column = history[-1].line, history[-1].column


def plain_syntax_diagnostic(error: UnexpectedInput, source: str) -> Diagnostic:
    """`syntax error` at the error's line and column, from nothing but Lark's own fields."""
    lines = source.splitlines() or [""]
    line = min(max(1, int(getattr(error, "line", 0) or 0) or len(lines)), len(lines))
    column = int(getattr(error, "column", 0) or 0) or len(lines[line - 1]) + 1
    token = getattr(error, "token", None)
    is_token = isinstance(token, Token) and token.type not in ("_NL", "$END")
    message = f"unexpected {describe_token(token)}" if isinstance(token, Token) else "syntax error"
    width = max(1, len(str(token).split("\n")[0])) if is_token else 1
    return Diagnostic(message, _point(source, line, column, width), "check the statement's syntax in docs/language.md",
                      incomplete=isinstance(error, UnexpectedEOF))


def _friendly_diagnostic(error: UnexpectedInput, source: str) -> Diagnostic:
    if isinstance(error, UnexpectedCharacters):
        span = _point(source, error.line, error.column)
        message = f"unexpected character `{source[error.pos_in_stream]}`"
        return Diagnostic(message, span, "remove it, or put text in double quotes to make a string")
    if isinstance(error, UnexpectedEOF) or (
        isinstance(error, UnexpectedToken) and error.token.type == "$END"
    ):
        return _unfinished(error, source)
    token = error.token
    dotted = dotted_name_at(source, token.start_pos) if str(token) in KEYWORDS else None
    if dotted and pine_hint(dotted, REGISTRY):  # `strategy.position_avg_price`: Pine's name
        return Diagnostic(f"unknown name `{dotted}`", _point(source, token.line, token.column, len(dotted)),
                          pine_hint(dotted, REGISTRY))
    span = _point(source, token.line, token.column, max(1, len(str(token).split("\n")[0])))
    hint = (_misspelt_keyword(token, error.expected)
            or friendly_hint(error, _parse_script)
            or describe_expected(error.expected))
    return Diagnostic(f"unexpected {describe_token(token)}", span, hint)


def _unfinished(error: UnexpectedInput, source: str) -> Diagnostic:
    """The input stopped mid-statement: most often an unclosed bracket, else a missing operand."""
    bracket = _unclosed_bracket(source)
    if bracket is not None:
        line, column, char = bracket
        closer = {"(": ")", "[": "]"}[char]
        return Diagnostic(f"`{char}` is never closed", _point(source, line, column),
                          f"add `{closer}`: inside brackets a statement continues on the next lines",
                          incomplete=True)
    friendly = friendly_hint(error, _parse_script)
    return Diagnostic("the statement ends too early", _end_of_text(source),
                      friendly or describe_expected(error.expected), incomplete=True)


def _misspelt_keyword(token: Token, expected: set[str]) -> str | None:
    """`crossover` for `crosses`: an unexpected name close to a keyword. Keywords the parser
    accepts here come first; LALR may already have reduced past the point where the keyword fit
    (then `expected` holds only the end of the line), so any keyword is the fallback."""
    word = str(token)
    if token.type != "NAME" or word in REGISTRY:
        return None  # a builtin's name is a real name, not a misspelt keyword
    accepted = [name.lower() for name in expected if name.lower() in KEYWORDS]
    if did_you_mean(word, accepted):
        return did_you_mean(word, accepted)
    # Stricter for the fallback, which has no grammar context: `crossover` → `crosses` (0.75),
    # not `close` → `else` (0.67).
    close = difflib.get_close_matches(word, KEYWORDS, n=1, cutoff=0.75)
    return f"did you mean `{close[0]}`?" if close else None


def _unclosed_bracket(source: str) -> tuple[int, int, str] | None:
    """The innermost bracket left open (line, column, char), skipping strings and comments."""
    stack: list[tuple[int, int, str]] = []
    for line_no, text in enumerate(source.splitlines(), start=1):
        code = re.sub(r'"(?:[^"\\]|\\.)*"', lambda m: " " * len(m.group()), text).split("#", 1)[0]
        for column, char in enumerate(code, start=1):
            if char in "([":
                stack.append((line_no, column, char))
            elif char in ")]" and stack:
                stack.pop()
    return stack[-1] if stack else None


def _end_of_text(source: str) -> Span:
    """Just after the last non-blank character (a blanked chunk's tail is only spaces)."""
    stripped = source.rstrip()
    lines = stripped.splitlines() or [""]
    return _point(source, len(lines), len(lines[-1]) + 1)


def _transform(tree: Tree) -> ast.Program:
    try:
        return ToAst().transform(tree)
    except VisitError as err:
        raise err.orig_exc from None


def _tree_diagnostic(exc: Exception, source: str = "") -> Diagnostic:
    if isinstance(exc, NumberTooLargeError):
        text = str(exc.token)
        shown = text if len(text) <= 12 else f"{text[:6]}…({len(text)} characters)"
        return Diagnostic(f"the number {shown} is too large", span_of(exc.token),
                          "numbers go up to about 1.8e308; windows, bar counts and offsets far less")
    if isinstance(exc, ReservedWordError):
        word = str(exc.token)
        dotted = dotted_name_at(source, exc.token.start_pos)
        if dotted and pine_hint(dotted, REGISTRY):  # `strategy.position_avg_price`: Pine's name
            return Diagnostic(f"unknown name `{dotted}`", _point(source, exc.token.line, exc.token.column,
                                                               len(dotted)), pine_hint(dotted, REGISTRY))
        return Diagnostic(f"`{word}` is a reserved word and cannot be used as a name",
                          span_of(exc.token), f"choose another name, such as `{word}_`")
    node = exc.node  # _NotCallable
    if isinstance(node, ast.Field) and isinstance(node.target, ast.Name):  # `ta.rsi(...)`
        dotted = f"{node.target.id}.{node.name}"
        if pine_hint(dotted, REGISTRY):
            return Diagnostic(f"unknown function `{dotted}`", node.span, pine_hint(dotted, REGISTRY))
    return Diagnostic("only a function name can be called", node.span,
                      "write the function's name before the parentheses, as in `sma(close, 20)`")


BOM = "\ufeff"


def without_bom(source: str) -> str:
    """The text without a leading UTF-8 byte-order mark (Windows Notepad writes one). Callers
    that render diagnostics must render against this text, or line 1's carets move by one."""
    return source[1:] if source.startswith(BOM) else source


# The transformer's own errors: each becomes one diagnostic (`_tree_diagnostic`).
_TREE_ERRORS = (ReservedWordError, _NotCallable, NumberTooLargeError)


class SyntaxDiagnostics(ScriptDiagnostics):
    """Syntax errors, with what could be read around them: `partial` holds the statements that
    parsed, `broken` the names the others would have defined (so the checker can report the
    rest of the script's errors without calling those names unknown)."""

    def __init__(self, diagnostics: list[Diagnostic], source: str, filename: str,
                 partial: ast.Program, broken: frozenset[str]) -> None:
        super().__init__(diagnostics, source, filename)
        self.partial = partial
        self.broken = broken


def parse_program(source: str, filename: str = "<script>") -> ast.Program:
    """Parse a whole script; raise SyntaxDiagnostics with every syntax error found."""
    source = without_bom(source)
    try:
        tree = get_parser().parse(source, start="start")
        if tree_depth(tree) <= MAX_NESTING + 1:  # (+1: the script's own node)
            return _transform(tree)
    except (UnexpectedInput, *_TREE_ERRORS):
        pass
    statements, diagnostics, broken = _parse_statements(source)
    if not diagnostics:  # the statements parse alone but not together (should not happen)
        try:
            get_parser().parse(source, start="start")
        except UnexpectedInput as err:
            diagnostics.append(syntax_diagnostic(err, source))
    partial = ast.Program(tuple(statements), statements[0].span.merge(statements[-1].span)
                          if statements else ast.NOWHERE)
    raise SyntaxDiagnostics(diagnostics, source, filename, partial, frozenset(broken)) from None


# Past this many syntax errors the rest get the plain message: nobody reads the 2,000th hint.
_DETAILED_ERRORS = 50


def _parse_statements(source: str) -> tuple[list[ast.Statement], list[Diagnostic], set[str]]:
    """Each statement parsed once, on its own (recovery.py): the ones that parse, every error,
    and the names the failed ones would have defined."""
    statements: list[ast.Statement] = []
    diagnostics: list[Diagnostic] = []
    broken: set[str] = set()
    for chunk in statement_chunks(source):
        try:
            tree = get_parser().parse(chunk.text, start="start")
        except UnexpectedInput as err:
            describe = syntax_diagnostic if len(diagnostics) < _DETAILED_ERRORS else plain_syntax_diagnostic
            diagnostics.append(shift_diagnostic(describe(err, chunk.text), chunk))
            broken.add(defined_name(chunk) or "")
            continue
        if tree_depth(tree) > MAX_NESTING + 1:
            diagnostics.append(nesting_diagnostic(chunk))
            broken.add(defined_name(chunk) or "")
            continue
        shift_tree(tree, chunk.line - 1, chunk.start)
        try:
            statements.extend(_transform(tree).statements)
        except _TREE_ERRORS as exc:
            diagnostics.append(_tree_diagnostic(exc, source))
            broken.add(defined_name(chunk) or "")
    broken.discard("")
    return statements, diagnostics, broken


def parse_expression(text: str, filename: str = "<expr>") -> ast.Expr:
    """Parse one expression (used by `tradebot eval` and the REPL)."""
    text = without_bom(text)
    try:
        tree = get_parser().parse(text, start="expr")
    except UnexpectedInput as err:
        raise ScriptDiagnostics([syntax_diagnostic(err, text)], text, filename) from None
    if isinstance(tree, Tree) and tree_depth(tree) > MAX_NESTING:
        raise ScriptDiagnostics([nesting_diagnostic(Chunk(text, 1, 0))], text, filename)
    try:
        return _transform(tree)
    except _TREE_ERRORS as exc:
        raise ScriptDiagnostics([_tree_diagnostic(exc, text)], text, filename) from None
