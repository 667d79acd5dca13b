"""The layering, enforced: every import inside tradebot/ (at the top, in a function or under
TYPE_CHECKING) is read with `ast` and checked against the rules the README's Layout states.

- `market` (what a bar is) imports nothing from tradebot but `errors`; `charts`, `textkit`
  (tables, durations) and `vm` (the stateful interpreter) nothing at all.
- `lang` never imports `runtime`, `data` or `exchange`; `runtime` never `lang` or `data`;
  `data` never `lang`, `runtime` or `live`; `exchange` never `data` or `live`.
- `lang.tooling` (editor and docs generators) is imported by nothing else in `lang`.
- Nothing imports `cli` but `cli` itself and `tradebot/__main__.py` (the console entry point).
- No module imports itself through others (imports under TYPE_CHECKING aside: they run for the
  type checker only). A cycle is an import order that fails: the registry once collected the
  library, whose modules imported the registry, so importing a library module first failed.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tradebot"

NEVER: Mapping[str, frozenset[str]] = {
    "lang": frozenset({"runtime", "data", "exchange"}),
    "runtime": frozenset({"lang", "data"}),
    "data": frozenset({"lang", "runtime", "live"}),
    "exchange": frozenset({"data", "live"}),
}
ONLY: Mapping[str, frozenset[str]] = {
    "market": frozenset({"errors"}),
    "charts": frozenset(),
    "textkit": frozenset(),
    "vm": frozenset(),
}
CLI_IMPORTERS = frozenset({"cli", "__main__"})


def room(module: str) -> str:
    """`tradebot.lang.compiler` -> `lang`; `tradebot.errors` -> `errors`; `tradebot` -> ``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def imported(module: str, source: str, *, is_package: bool,
             typing: bool = True) -> Iterator[tuple[int, str]]:
    """(line, absolute module) of every tradebot import in `source`, relative ones resolved.
    `typing=False`: not those under `if TYPE_CHECKING:`."""
    here = module.split(".") if is_package else module.split(".")[:-1]
    tree = ast.parse(source)
    skipped = set() if typing else {id(node) for block in ast.walk(tree) if _for_type_checker(block)
                                    for statement in block.body for node in ast.walk(statement)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            # A name may be a module (`from tradebot import errors`) or not (`from .ir import Node`):
            # both spellings name the room, which is all the rules read.
            names = [f"{target}.{alias.name}" for alias in node.names]
        else:
            continue
        yield from ((node.lineno, name) for name in names if name == "tradebot" or name.startswith("tradebot."))


def _for_type_checker(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def violations(modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """Every import that breaks a rule, as `module:line imports target (rule)`; `modules` maps a
    module name to (its source, whether it is a package's __init__)."""
    found = []
    for module, (source, is_package) in sorted(modules.items()):
        src = room(module)
        for line, target in imported(module, source, is_package=is_package):
            dst = room(target)
            if dst == src or not dst:
                continue
            if dst == "cli" and src not in CLI_IMPORTERS:
                found.append(f"{module}:{line} imports {target} (nothing imports cli)")
            elif dst in NEVER.get(src, ()):
                found.append(f"{module}:{line} imports {target} ({src} never imports {dst})")
            elif src in ONLY and dst not in ONLY[src]:
                allowed = ", ".join(sorted(ONLY[src])) or "nothing"
                found.append(f"{module}:{line} imports {target} ({src} imports {allowed} from tradebot)")
    return found


def tradebot_modules() -> dict[str, tuple[str, bool]]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        modules[name] = (path.read_text(encoding="utf-8"), is_package)
    return modules


def test_no_import_breaks_the_layering() -> None:
    modules = tradebot_modules()
    assert {"tradebot.lang.compiler", "tradebot.runtime.engine", "tradebot.market.timeframe"} <= set(modules)
    broken = violations(modules)
    assert not broken, "imports that break the layering (README.md, Layout):\n" + "\n".join(broken)


def test_the_check_finds_each_kind_of_broken_import() -> None:
    fake = {
        "tradebot.lang.compiler": ("from ..runtime.engine import run\nfrom ..market import bars\n", False),
        "tradebot.runtime.engine": ("def f():\n    import tradebot.data.store\n", False),
        "tradebot.data": ("from .store import x\nfrom ..lang import ir\n", True),
        "tradebot.market.timeframe": ("from ..errors import UsageError\nfrom ..config import Config\n", False),
        "tradebot.charts.svg": ("from tradebot import errors\n", False),
        "tradebot.repl.app": ("from ..cli.run import main\n", False),
        "tradebot.__main__": ("from .cli import main\n", False),
        "tradebot.pipeline": ("from .lang import ir\nfrom .runtime import engine\nfrom .data import loader\n", False),
    }
    assert violations(fake) == [
        "tradebot.charts.svg:1 imports tradebot.errors (charts imports nothing from tradebot)",
        "tradebot.data:2 imports tradebot.lang.ir (data never imports lang)",
        "tradebot.lang.compiler:1 imports tradebot.runtime.engine.run (lang never imports runtime)",
        "tradebot.market.timeframe:2 imports tradebot.config.Config (market imports errors from tradebot)",
        "tradebot.repl.app:1 imports tradebot.cli.run.main (nothing imports cli)",
        "tradebot.runtime.engine:2 imports tradebot.data.store (runtime never imports data)",
    ]


def test_the_compile_path_never_imports_the_editor_tooling() -> None:
    """`lang/tooling/` (vocabulary, lexers, docs) is derived from the registries; the compile path
    must not depend on it, or the generators could no longer be moved or dropped freely."""
    broken = [
        f"{module}:{line} imports {target}"
        for module, (source, is_package) in tradebot_modules().items()
        if module.startswith("tradebot.lang") and not module.startswith("tradebot.lang.tooling")
        for line, target in imported(module, source, is_package=is_package)
        if target.startswith("tradebot.lang.tooling")
    ]
    assert broken == []
    assert imported("tradebot.lang.compiler", "from .tooling import vocabulary\n", is_package=False).__next__()[1] \
        == "tradebot.lang.tooling.vocabulary"


def layout_block(readme: str) -> str:
    """The code block under the README's `## Layout` heading."""
    section = readme.split("\n## Layout\n", 1)[1]
    return section.split("```", 2)[1]


def test_the_readme_layout_names_every_package_and_module() -> None:
    """The README's Layout is the map a newcomer reads first: a package or top-level module
    missing from it is a room they will not know exists."""
    block = layout_block((ROOT / "README.md").read_text(encoding="utf-8"))
    packages = [f"tradebot/{p.parent.name}/" for p in PACKAGE.glob("*/__init__.py")]
    lang_parts = [f"{p.parent.name}/" for p in (PACKAGE / "lang").glob("*/__init__.py")]
    modules = [p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__")]
    missing = [name for name in [*packages, *lang_parts, *modules] if name not in block]
    assert {"tradebot/lang/", "tradebot/vm/", "tooling/", "pipeline.py"} <= {*packages, *lang_parts, *modules}
    assert missing == [], f"README.md's Layout does not name: {', '.join(sorted(missing))}"


def import_cycle(modules: Mapping[str, tuple[str, bool]]) -> list[str]:
    """A chain of modules, each importing the next, that ends where it starts (empty if none):
    every import counts, at the top or in a function, but those under TYPE_CHECKING."""
    def owner(target: str) -> str:  # `tradebot.lang.ir.Node` -> `tradebot.lang.ir`
        while target and target not in modules:
            target = target.rpartition(".")[0]
        return target

    edges = {module: sorted({owner(target) for _, target in imported(module, source, is_package=is_package,
                                                                       typing=False)} - {"", module})
             for module, (source, is_package) in modules.items()}
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str]:
        if module in path:
            return [*path[path.index(module):], module]
        if module in done:
            return []
        path.append(module)
        for target in edges[module]:
            if cycle := visit(target):
                return cycle
        path.pop()
        done.add(module)
        return []

    for module in sorted(modules):
        if cycle := visit(module):
            return cycle
    return []


def test_no_module_imports_itself_through_others() -> None:
    cycle = import_cycle(tradebot_modules())
    assert cycle == [], "an import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_finds_a_cycle_through_a_function_but_not_through_typing() -> None:
    fake = {
        "tradebot.lang.builtins": ("def collect():\n    from .library import MODULES\n", False),
        "tradebot.lang.library": ("from . import trend\nMODULES = (trend,)\n", True),
        "tradebot.lang.library.trend": ("from ..builtins import indicator\n", False),
        "tradebot.lang.compiler": ("from .symbols import Step\n", False),
        "tradebot.lang.symbols": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from .compiler import Plan\n", False),
    }
    assert import_cycle(fake) == ["tradebot.lang.builtins", "tradebot.lang.library", "tradebot.lang.library.trend",
                                  "tradebot.lang.builtins"]
    del fake["tradebot.lang.library.trend"]
    assert import_cycle(fake) == []
