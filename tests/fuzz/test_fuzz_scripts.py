"""Fuzzing the language front end: random, hostile and mutated scripts.

The pass condition: no traceback (only the project's UserErrors, rendered as diagnostics, exit 2),
no hang (a deadline per example) and no memory blow-up (peak RSS). `make test` runs a small fixed
budget (derandomized in CI by HYPOTHESIS_PROFILE=ci); `make fuzz` runs TRADEBOT_FUZZ_EXAMPLES each.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tradebot.cli import main
from tradebot.errors import UserError
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.pipeline import compile_source

from .scripts import mutated_example, token_soup, well_formed

EXAMPLES = int(os.environ.get("TRADEBOT_FUZZ_EXAMPLES", "25"))
FUZZ = settings(max_examples=EXAMPLES, deadline=dt.timedelta(seconds=30), database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
MEMORY_GROWTH_KB = 1_500_000  # peak RSS may not grow by more than this over a test


def peak_rss_kb() -> int | None:
    try:
        import resource
    except ImportError:  # Windows: no getrusage; the deadline still catches a runaway
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak


@pytest.fixture(autouse=True)
def bounded_memory():
    before = peak_rss_kb()
    yield
    after = peak_rss_kb()
    if before is not None and after is not None:
        assert after - before < MEMORY_GROWTH_KB, f"peak memory grew by {(after - before) // 1024} MB"


def compiles_or_says_why(source: str) -> None:
    """Parse, check and compile: a result or a UserError, nothing else."""
    try:
        compile_source(source, "fuzz.tbs")
    except ScriptDiagnostics as err:
        assert err.diagnostics, "an error without a diagnostic"
        err.render()
    except UserError as err:
        err.render()


@FUZZ
@given(well_formed())
def test_well_formed_scripts_check(source: str) -> None:
    compiles_or_says_why(source)


@FUZZ
@given(token_soup())
def test_token_soup_never_crashes(source: str) -> None:
    compiles_or_says_why(source)


@FUZZ
@given(st.text(max_size=200))
def test_any_text_never_crashes(source: str) -> None:
    compiles_or_says_why(source)


_WORKDIR = Path(tempfile.mkdtemp(prefix="tradebot-fuzz-"))


@FUZZ
@given(mutated_example())
def test_tradebot_check_on_mutated_examples_exits_0_or_2(source: str) -> None:
    path = _WORKDIR / "mutated.tbs"
    path.write_text(source, encoding="utf-8", errors="surrogatepass")
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["check", str(path)])  # in-process: any exception but UserError escapes here
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 2:
        assert f"{path}:" in err.getvalue() and "error" in err.getvalue()
