"""Polars' lazy numpy proxy is resolved before any of our UDFs runs on Polars' thread pool.

Its first attribute access copies numpy's namespace into the proxy, after which numpy's own
`numpy._globals` submodule shadows the proxy's `_globals` dict: a second thread that entered the
first access before the copy then fails ("'module' object does not support item assignment"),
as a sweep worker did in a full run. Importing the indicator library resolves it on one thread."""
from __future__ import annotations

import subprocess
import sys

PROBE = """
import polars._dependencies as deps
proxy = deps.numpy  # the object polars.series and others imported: it stays a proxy
before = "ndarray" in vars(proxy)
import tradebot.lang.compiler  # the compile path imports the indicator library
after = "ndarray" in vars(proxy)
try:
    proxy._import()  # what the losing thread of the race does once the proxy is resolved
    second = "ok"
except TypeError as err:
    second = str(err)
print(before, after, second)
"""


def test_the_indicator_library_resolves_polars_numpy_proxy_on_import() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True).stdout.split(" ", 2)
    before, after, second = out[0], out[1], out[2].strip()
    assert after == "True"
    # The mechanism this guards against is still there in the installed Polars (if a release fixes
    # it, this line says so and the workaround can go).
    assert second == "'module' object does not support item assignment", second
    assert before in ("True", "False")
