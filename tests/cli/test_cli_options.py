"""Options shared by every subcommand: -v/-q before or after the subcommand's name."""
from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from tradebot.cli import main

ROOT = Path(__file__).resolve().parents[2]
RSI = str(ROOT / "examples/rsi.tbs")


@pytest.mark.parametrize("argv", [["-v", "check", RSI], ["check", RSI, "-v"], ["check", "-v", RSI],
                                  ["data", "check", "-v", str(ROOT / "data/EURUSD_1h.csv")]])
def test_verbose_is_accepted_anywhere(argv: list[str], capsys) -> None:
    main(argv)
    assert "unrecognized arguments" not in capsys.readouterr().err
    assert logging.getLogger("tradebot").level == logging.DEBUG


@pytest.mark.parametrize("argv", [["-q", "check", RSI], ["check", RSI, "--quiet"]])
def test_quiet_is_accepted_anywhere(argv: list[str], capsys) -> None:
    assert main(argv) == 0
    assert logging.getLogger("tradebot").level == logging.WARNING


def test_subcommand_without_the_flag_keeps_the_one_given_before_it(capsys) -> None:
    assert main(["-q", "check", RSI]) == 0
    assert logging.getLogger("tradebot").level == logging.WARNING


def test_verbose_and_quiet_on_both_sides_are_refused(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["-v", "check", RSI, "-q"])
    assert exit_.value.code == 2
    assert "exclude each other" in capsys.readouterr().err


def test_verbose_logs_tradebot_not_numbas_bytecode() -> None:
    # A new interpreter: under pytest the root logger already has handlers, so basicConfig is inert.
    code = ("import logging\n"
            "from tradebot.cli import configure_logging\n"
            "configure_logging(verbose=True, quiet=False)\n"
            "print(logging.getLogger('tradebot.pipeline').isEnabledFor(logging.DEBUG),\n"
            "      logging.getLogger('numba.core.byteflow').isEnabledFor(logging.DEBUG))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["True", "False"], done.stderr
