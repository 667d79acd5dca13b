"""The `tradebot` command: one argparse tree, one subcommand module per area.

Each module in COMMAND_MODULES exposes `add_commands(subparsers)`, registering subcommands whose
parser defaults carry `handler(args, config) -> int`. Errors the user can fix (`UserError`) are
printed without a traceback and turn into their exit code.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import Sequence

from ..config import load_config
from ..errors import UserError

COMMAND_MODULES = (
    "tradebot.cli.run",
    "tradebot.cli.data",
    "tradebot.cli.eval",
    "tradebot.cli.repl",
    "tradebot.cli.report",
    "tradebot.cli.ui",
    "tradebot.cli.paper",
)

log = logging.getLogger("tradebot")


_skip_teardown = False


def skip_teardown() -> None:
    """Let the console entry point end the process without Python's teardown once this command
    returns (tradebot/__main__.py, `end_process`): for commands that leave nothing running."""
    global _skip_teardown
    _skip_teardown = True


def teardown_skippable() -> bool:
    return _skip_teardown


def lazy(module: str, name: str):
    """A handler that imports its implementation only when its command runs: building the parser
    then costs no heavy imports (aiohttp, websockets, prompt_toolkit), so start-up stays fast."""

    def handler(args: argparse.Namespace, config):
        return getattr(importlib.import_module(module), name)(args, config)

    return handler


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tradebot",
        description="Write trading strategies in .tbs, backtest, optimize and collect data.",
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"tradebot {__version__}")
    add_noise_flags(parser, default=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_commands(subparsers)
    for sub in _subcommand_parsers(parser):
        # SUPPRESS: a subcommand without -v/-q leaves the value given before it untouched.
        add_noise_flags(sub, default=argparse.SUPPRESS)
    return parser


def add_noise_flags(parser: argparse.ArgumentParser, *, default: object) -> None:
    """-v/-q, accepted before the subcommand and after it (`tradebot run X -v`)."""
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="store_true", default=default, help="log debug details")
    noise.add_argument("-q", "--quiet", action="store_true", default=default,
                       help="only warnings and errors")


def _subcommand_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser below `parser` (`run`, `data`, `data check`, ...)."""
    found = []
    for action in parser._actions:  # argparse exposes subparsers only through its actions
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += [sub, *_subcommand_parsers(sub)]
    return found


def configure_logging(*, verbose: bool, quiet: bool) -> None:
    """-v/-q set tradebot's own level; libraries stay at warnings (numba's debug log is its
    bytecode, thousands of lines that say nothing about the user's run)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    log.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    from ..optimize.interrupt import keep_lost_presses

    keep_lost_presses()  # a Ctrl-C Python swallows in a callback at start-up still stops a sweep
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C at any point, start-up included: a word, not a traceback
        print("interrupted", file=sys.stderr)
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verbose and args.quiet:  # one before the subcommand, the other after it
        parser.error("-v/--verbose and -q/--quiet exclude each other")
    configure_logging(verbose=args.verbose, quiet=args.quiet)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args, load_config()) or 0)
    except UserError as err:
        print(err.render(), file=sys.stderr)
        return err.exit_code
    except BrokenPipeError:
        # The reader went away (`tradebot run ... | head`): not an error worth a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
