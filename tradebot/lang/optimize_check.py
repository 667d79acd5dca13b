"""The `optimize` statement checked into an `OptimizeSpec`: what `tradebot run --optimize` searches.

    optimize maximize sharpe by bayes trials 200 seed 7 min_trades 20
      where lower < upper
      validate walk_forward 5 folds rolling

The checker calls `check_optimize` with the script's params and reports through its own error
sink, so an `optimize` mistake is listed with every other error of the script. The objective is
checked against `objectives` when the caller passes the metric names (the language does not know
the runtime's metrics; `tradebot.pipeline` hands them in). `where` conditions may only read params:
they prune combinations before anything runs, so they cannot depend on the data.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Collection, Mapping, Sequence

from . import ast, ir
from .ast import Span
from .builtins import REGISTRY
from .diagnostics import did_you_mean
from .params import ParamInfo
from .resolve import is_invalid
from .types import Kind

METHODS = ("grid", "random", "bayes")
VALIDATIONS = ("split", "walk_forward")
FOLD_MODES = ("rolling", "anchored")
DEFAULT_TRIALS = 100  # random and bayes without `trials`
# The most trials a search may ask for, as the grid is bounded (optimize/space.py MAX_GRID): random
# draws cost what grid points cost; a Bayesian trial also refits its model on every earlier one.
MAX_TRIALS = {"random": 20_000_000, "bayes": 100_000}
# Expressions a constraint may use: arithmetic, comparisons and logic on params and numbers.
CONSTRAINT_NODES = (ast.Number, ast.Percent, ast.Bool, ast.Name, ast.Unary, ast.Binary, ast.IfElse)

ErrorSink = Callable[[str, Span, "str | None"], object]


@dataclass(frozen=True)
class Validation:
    """Out-of-sample validation: `split` (train on the first `train_fraction` of the bars) or
    `walk_forward` (`folds` consecutive test windows, each after a rolling or anchored train window)."""

    kind: str  # "split" | "walk_forward"
    train_fraction: float | None = None
    folds: int | None = None
    anchored: bool = False


@dataclass(frozen=True)
class OptimizeSpec:
    """A checked `optimize` statement (the CLI's --method/--trials/--seed may override parts)."""

    goal: str  # "maximize" | "minimize"
    objective: str
    method: str = "grid"
    trials: int | None = None  # None: grid (every combination)
    seed: int = 0
    min_trades: int = 0
    where: tuple[ast.Expr, ...] = ()
    validation: Validation | None = None
    span: Span = field(default=ast.NOWHERE, compare=False, repr=False)
    objective_span: Span = field(default=ast.NOWHERE, compare=False, repr=False)

    @property
    def maximize(self) -> bool:
        return self.goal == "maximize"


def check_optimize(statements: Sequence[ast.Optimize], *, params: Mapping[str, ParamInfo],
                   error: ErrorSink, resolve: Callable[[ast.Expr], ir.Node],
                   objectives: Collection[str] | None = None) -> OptimizeSpec | None:
    """The script's optimize statement as a spec (None without one); errors go to `error`."""
    if not statements:
        return None
    for extra in statements[1:]:
        error("a script has at most one `optimize` statement", extra.span,
              f"the first is on line {statements[0].span.line}; merge them")
    return _Statement(statements[0], params, error, resolve).spec(objectives)


class _Statement:
    def __init__(self, node: ast.Optimize, params: Mapping[str, ParamInfo], error: ErrorSink,
                 resolve: Callable[[ast.Expr], ir.Node]) -> None:
        self.node, self.params, self.error, self.resolve = node, params, error, resolve

    def spec(self, objectives: Collection[str] | None) -> OptimizeSpec:
        node = self.node
        self._objective(objectives)
        if not any(p.low is not None or p.choices is not None for p in self.params.values()):
            self.error("nothing to optimize: no param declares a range or choices", node.span,
                       "give a param a domain, for example `param length = 14 in 5..30`")
        clauses = self._unique_clauses()
        method = self._method(clauses.get("by"))
        trials = self._count(clauses.get("trials"), minimum=1)
        if trials is not None and method == "grid":
            self.error("`trials` is for `by random` and `by bayes`; a grid tries every combination",
                       clauses["trials"].span, "remove `trials`, or search `by random`")
        if trials is None and method != "grid":
            trials = DEFAULT_TRIALS
        if trials is not None and method in MAX_TRIALS and trials > MAX_TRIALS[method]:
            self.error(f"`by {method}` takes at most {MAX_TRIALS[method]:,} trials, got {trials:,}",
                       clauses["trials"].span,
                       "each trial is a backtest: a few hundred usually find the best region")
            trials = MAX_TRIALS[method]
        wheres = tuple(c.amount for c in node.clauses if c.keyword == "where")
        for cond in wheres:
            self._constraint(cond)  # type: ignore[arg-type]
        return OptimizeSpec(node.goal, node.objective, method, trials,
                            self._count(clauses.get("seed"), minimum=0) or 0,
                            self._count(clauses.get("min_trades"), minimum=0) or 0,
                            wheres, self._validation(clauses.get("validate")),  # type: ignore[arg-type]
                            node.span, node.objective_span)

    def _objective(self, objectives: Collection[str] | None) -> None:
        if objectives is None or self.node.objective in objectives:
            return
        hint = did_you_mean(self.node.objective, objectives)
        self.error(f"unknown metric `{self.node.objective}` to {self.node.goal}", self.node.objective_span,
                   hint or "metrics: " + ", ".join(objectives))

    def _unique_clauses(self) -> dict[str, ast.OptimizeClause]:
        seen: dict[str, ast.OptimizeClause] = {}
        for clause in self.node.clauses:
            if clause.keyword == "where":
                continue  # several `where` conditions all apply
            if clause.keyword in seen:
                self.error(f"`{clause.keyword}` is given twice", clause.span,
                           f"it is already given on line {seen[clause.keyword].span.line}")
                continue
            seen[clause.keyword] = clause
        return seen

    def _method(self, clause: ast.OptimizeClause | None) -> str:
        if clause is None:
            return "grid"
        if clause.word not in METHODS:
            self.error(f"unknown search method `{clause.word}`", clause.word_span,
                       did_you_mean(clause.word or "", METHODS) or "methods: grid, random, bayes")
            return "grid"
        return clause.word  # type: ignore[return-value]

    def _count(self, clause: ast.OptimizeClause | None, *, minimum: int) -> int | None:
        if clause is None:
            return None
        number = clause.amount
        if not isinstance(number, ast.Number) or not number.is_int or number.value < minimum:
            least = "positive" if minimum > 0 else "non-negative"
            self.error(f"`{clause.keyword}` takes a {least} whole number", clause.span,
                       f"for example `{clause.keyword} {max(minimum, 1) * 20}`")
            return None
        return int(number.value)

    def _constraint(self, cond: ast.Expr) -> None:
        """A `where` condition reads params only and is true or false."""
        if not self._params_only(cond):
            return
        value = self.resolve(cond)
        if not is_invalid(value) and value.type.kind is not Kind.BOOL:
            self.error("a `where` condition must be true or false", cond.span,
                       "compare params, for example `where fast < slow`")

    def _params_only(self, node: object) -> bool:
        """Whether `node` is arithmetic, comparisons and logic on params (errors reported)."""
        if isinstance(node, ast.Name) and node.id not in self.params:
            hint = None if node.id in REGISTRY else did_you_mean(node.id, self.params)
            if node.id in REGISTRY and REGISTRY[node.id].category == "position":
                hint = "position state exists only inside a run, bar by bar; a `where` condition picks params before any run"
            self.error(f"a `where` condition can only use params; `{node.id}` is not a param", node.span,
                       hint or "conditions on the data belong in the rules")
            return False
        if not isinstance(node, CONSTRAINT_NODES):
            self.error("a `where` condition is arithmetic, comparisons and logic on params",
                       node.span, "for example `where fast < slow`")  # type: ignore[attr-defined]
            return False
        return all([self._params_only(child) for child in ast.children(node)])

    def _validation(self, clause: ast.OptimizeClause | None) -> Validation | None:
        if clause is None:
            return None
        kind, amount = clause.word, clause.amount
        if kind not in VALIDATIONS:
            self.error(f"unknown validation `{kind}`", clause.word_span,
                       did_you_mean(kind or "", VALIDATIONS)
                       or "write `validate split 70%` or `validate walk_forward 5 folds`")
            return None
        if kind == "split":
            return self._split(clause, amount)
        return self._walk_forward(clause, amount)

    def _split(self, clause: ast.OptimizeClause, amount: ast.Expr | None) -> Validation | None:
        if not isinstance(amount, ast.Percent) or not 0.0 < amount.value < 1.0 or clause.mode:
            self.error("`validate split` takes the in-sample share as a percentage between 0% and 100%",
                       clause.span, "for example `validate split 70%`")
            return None
        return Validation("split", train_fraction=amount.value)

    def _walk_forward(self, clause: ast.OptimizeClause, amount: ast.Expr | None) -> Validation | None:
        if not isinstance(amount, ast.Number) or not amount.is_int or amount.value < 2:
            self.error("`validate walk_forward` takes a whole number of folds, at least 2", clause.span,
                       "for example `validate walk_forward 5 folds`")
            return None
        mode = clause.mode or "rolling"
        if mode not in FOLD_MODES:
            self.error(f"unknown walk-forward mode `{mode}`", clause.mode_span,
                       did_you_mean(mode, FOLD_MODES) or "write `rolling` or `anchored`")
            return None
        return Validation("walk_forward", folds=int(amount.value), anchored=mode == "anchored")
