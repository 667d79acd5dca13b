"""The ONE registry of builtins: every series, function and indicator the language knows.

Each `Builtin` carries its parameters (names, kinds, defaults), its result type, its lowering to
Polars, a naive reference implementation (numpy, bar by bar: the oracle the compiler is tested
against), its doc and an example. The checker, compiler, reference evaluator, docs generator,
REPL completer and highlighters all read this one table, so they cannot drift apart.

Library modules (tradebot/lang/library/*.py) each export a BUILTINS tuple, declared with the
helpers of builtin_spec.py; REGISTRY merges them.
"""
from __future__ import annotations

from typing import Mapping

from .builtin_spec import Builtin  # what a builtin is, and the helpers that declare one
from .library import LIBRARY_MODULES


def _collect() -> dict[str, Builtin]:
    registry: dict[str, Builtin] = {}
    for module in LIBRARY_MODULES:
        for item in module.BUILTINS:
            if item.name in registry:
                raise RuntimeError(f"builtin `{item.name}` is defined twice")
            registry[item.name] = item
    return registry


REGISTRY: Mapping[str, Builtin] = _collect()
