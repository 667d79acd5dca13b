"""Golden files: parse trees of tests/lang/golden/parse/*.tbs and rendered errors of
golden/errors/*.tbs. Run `pytest tests/lang/test_goldens.py --update-goldens` to rewrite them
after an intended change, then review the diff."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from tests.golden import compare_golden
from tradebot.lang import ast
from tradebot.lang.checker import check
from tradebot.lang.diagnostics import ScriptDiagnostics
from tradebot.lang.parser import parse_program

GOLDEN = Path(__file__).parent / "golden"


def dump(node: object, indent: int = 0) -> str:
    """A readable tree: one node per line, spans as line:col-line:col."""
    pad = "  " * indent
    if isinstance(node, tuple):
        return "\n".join(dump(item, indent) for item in node) if node else pad + "()"
    if not dataclasses.is_dataclass(node):
        return pad + repr(node)
    span = getattr(node, "span", None)
    where = f" @{span.line}:{span.column}-{span.end_line}:{span.end_column}" if span else ""
    lines = [f"{pad}{type(node).__name__}{where}"]
    for f in dataclasses.fields(node):
        if f.name.endswith("span"):
            continue
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value) or (isinstance(value, tuple) and value
                                               and dataclasses.is_dataclass(value[0])):
            lines.append(f"{pad}  {f.name}:")
            lines.append(dump(value, indent + 2))
        else:
            lines.append(f"{pad}  {f.name}: {value!r}")
    return "\n".join(lines)


@pytest.mark.parametrize("script", sorted((GOLDEN / "parse").glob("*.tbs")), ids=lambda p: p.stem)
def test_parse_golden(script: Path, update_goldens: bool) -> None:
    tree = parse_program(script.read_text(encoding="utf-8"), script.name)
    compare_golden(script.with_suffix(".ast"), dump(tree) + "\n", update_goldens)


@pytest.mark.parametrize("script", sorted((GOLDEN / "errors").glob("*.tbs")), ids=lambda p: p.stem)
def test_error_golden(script: Path, update_goldens: bool) -> None:
    source = script.read_text(encoding="utf-8")
    with pytest.raises(ScriptDiagnostics) as caught:
        check(parse_program(source, script.name), source=source, filename=script.name)
    compare_golden(script.with_suffix(".err"), caught.value.render() + "\n", update_goldens)


def test_every_golden_parse_is_a_program() -> None:
    scripts = list((GOLDEN / "parse").glob("*.tbs"))
    assert scripts
    for script in scripts:
        assert isinstance(parse_program(script.read_text(encoding="utf-8")), ast.Program)
