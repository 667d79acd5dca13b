"""The --optimize family of flags on `tradebot run` (kept apart from command.py so that a plain
`tradebot run` does not import the optimizer and Optuna)."""
from __future__ import annotations

import argparse

from ..errors import UsageError
from ..lang.optimize_check import METHODS

CONFIRM_ABOVE = 1_000_000
DEFAULT_TOP = 10
FLAGS = ("method", "trials", "jobs", "storage", "study", "yes", "seed", "top")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The --optimize family of flags on `tradebot run`."""
    group = parser.add_argument_group("optimization (docs/optimize.md)")
    group.add_argument("--optimize", action="store_true", help="search the params as the script's `optimize` says")
    group.add_argument("--method", choices=METHODS, help="override the search method")
    group.add_argument("--trials", type=_positive, metavar="N", help="trials for random / bayes")
    group.add_argument("--jobs", type=_positive, metavar="N", help="worker processes (1)")
    group.add_argument("--storage", metavar="URL", help="Optuna storage: a SQLite file or a database URL")
    group.add_argument("--study", metavar="NAME", help="study name in --storage (default: the script's name)")
    group.add_argument("--yes", action="store_true", help=f"run grids over {CONFIRM_ABOVE:,} combinations unasked")
    group.add_argument("--seed", type=int, metavar="N", help="override the seed of random / bayes")
    group.add_argument("--top", type=_positive, metavar="N", help=f"trials shown in the table ({DEFAULT_TOP})")


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text}")
    return value


def check_flags(args: argparse.Namespace) -> None:
    """Optimization flags without --optimize are a mistake worth saying."""
    given = [f for f in FLAGS if getattr(args, f, None) not in (None, False)]
    if given and not args.optimize:
        raise UsageError(f"--{given[0]} only applies with --optimize")
