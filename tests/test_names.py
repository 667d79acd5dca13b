"""Every global name a function of tradebot reads is defined in its module or a builtin.

A name left behind when code moves between modules (an import dropped, a helper renamed) is a
NameError only when the function runs, which may be a rare path (an error message, a resumed
session): found here for every function at once, from the compiled bytecode of each module.
"""
from __future__ import annotations

import builtins
import dis
import importlib
import pkgutil
import types
from collections.abc import Iterator

import tradebot


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def undefined_globals(module: types.ModuleType) -> list[str]:
    """`function: name` for each global a function of `module` reads that the module lacks
    (module and class bodies read names of their own scope: only functions are checked)."""
    source = module.__loader__.get_source(module.__name__)  # type: ignore[union-attr]
    defined = vars(module)
    missing = []
    for code in _code_objects(compile(source, module.__file__ or module.__name__, "exec")):
        for instruction in dis.get_instructions(code):
            name = instruction.argval
            if instruction.opname == "LOAD_GLOBAL" and name not in defined and not hasattr(builtins, name):
                missing.append(f"{code.co_qualname}: {name}")
    return sorted(set(missing))


def test_every_global_a_function_reads_is_defined() -> None:
    names = sorted(info.name for info in pkgutil.walk_packages(tradebot.__path__, "tradebot."))
    assert {"tradebot.pipeline", "tradebot.lang.checker", "tradebot.live.session"} <= set(names)
    found = {name: undefined_globals(importlib.import_module(name)) for name in names}
    assert {name: missing for name, missing in found.items() if missing} == {}


def test_the_check_finds_a_name_nothing_defines() -> None:
    module = types.ModuleType("tradebot_fake")
    source = "import math\n\ndef area(r):\n    return math.pi * r * r\n\ndef rows(frame):\n    return COLUMNS[1:]\n"

    class Loader:
        @staticmethod
        def get_source(name: str) -> str:
            return source

    module.__loader__ = Loader()  # type: ignore[assignment]
    module.__file__ = "tradebot_fake.py"
    exec(compile(source, "tradebot_fake.py", "exec"), vars(module))
    assert undefined_globals(module) == ["rows: COLUMNS"]
