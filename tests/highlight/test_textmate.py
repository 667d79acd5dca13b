"""The TextMate grammar: the committed files are what the generator makes, and the real TextMate
engine (vscode-textmate + vscode-oniguruma, run by Node) highlights every example exactly as the
Pygments lexer does — keywords, settings, numbers, strings, comments, builtins, fields, operators.

The Node harness lives in tests/highlight/node/; its node_modules is installed here on first use
(`npm ci` from the committed package-lock.json). Without node or npm the comparison is skipped.
"""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.highlight.support import ALL_FILES, ROOT, VALID_FILES, pygments_roles_by_line
from tradebot.lang.tooling import tmgen

NODE_DIR = Path(__file__).parent / "node"
GRAMMAR = ROOT / "grammar" / "tbs.tmLanguage.json"
EXTENSION = ROOT / "editors" / "vscode"

# The test's own reading of TextMate scopes as roles (deliberately not tmgen.SCOPES); first match wins.
TEXTMATE_ROLES = (
    ("comment.", "comment"), ("string.", "string"), ("constant.other.timeframe", "timeframe"),
    ("constant.numeric", "number"), ("keyword.other.setting", "setting"), ("storage.type", "declaration"),
    ("constant.language", "constant"), ("keyword.control", "keyword"), ("keyword.operator.word", "operator_word"),
    ("support.variable", "series"), ("support.function", "function"), ("variable.other.property", "field"),
    ("invalid.", "error"), ("keyword.operator", "operator"), ("punctuation", "punctuation"),
    ("variable.other", "name"),
)


def textmate_role(scopes: list[str]) -> str | None:
    innermost = scopes[-1]
    if innermost == tmgen.SCOPE_NAME:
        return None
    for prefix, role in TEXTMATE_ROLES:
        if innermost.startswith(prefix):
            return role
    raise AssertionError(f"unexpected scope {innermost}")


def test_committed_grammar_is_generated() -> None:
    stale = tmgen.stale_outputs(ROOT, tmgen.render())
    assert stale == [], "run `python -m tradebot.lang.tooling.tmgen` and commit the result"


def test_check_mode_reports_a_stale_copy(tmp_path: Path) -> None:
    for relative in tmgen.OUTPUTS:
        (tmp_path / relative).parent.mkdir(parents=True)
        (tmp_path / relative).write_text("{}\n", encoding="utf-8")
    assert tmgen.main(["--check", "--root", str(tmp_path)]) == 1
    assert tmgen.main(["--root", str(tmp_path)]) == 0
    assert tmgen.main(["--check", "--root", str(tmp_path)]) == 0


def test_vscode_extension_points_at_the_grammar() -> None:
    manifest = json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))
    grammar = manifest["contributes"]["grammars"][0]
    assert grammar["scopeName"] == tmgen.SCOPE_NAME
    assert (EXTENSION / grammar["path"]).read_text(encoding="utf-8") == GRAMMAR.read_text(encoding="utf-8")
    assert manifest["contributes"]["languages"][0]["extensions"] == [".tbs"]
    config = json.loads((EXTENSION / "language-configuration.json").read_text(encoding="utf-8"))
    assert config["comments"]["lineComment"] == "#"


def _ensure_node_modules() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed to run the TextMate engine (vscode-textmate); not on PATH")
    if not (NODE_DIR / "node_modules" / "vscode-textmate").is_dir():
        command = "ci" if (NODE_DIR / "package-lock.json").is_file() else "install"
        done = subprocess.run([npm, command, "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            pytest.fail(f"npm {command} failed in {NODE_DIR}:\n{done.stdout}\n{done.stderr}")
    return node


@pytest.fixture(scope="module")
def textmate_tokens() -> dict[Path, list[list[dict]]]:
    node = _ensure_node_modules()
    files = ALL_FILES
    done = subprocess.run([node, str(NODE_DIR / "tokenize.mjs"), str(GRAMMAR), *map(str, files)],
                          capture_output=True, text=True, timeout=120, cwd=NODE_DIR)
    assert done.returncode == 0, done.stderr
    return {Path(name): lines for name, lines in json.loads(done.stdout).items()}


def _textmate_roles_by_line(lines: list[list[dict]]) -> list[list[str | None]]:
    out = []
    for tokens in lines:
        roles: list[str | None] = [None] * (tokens[-1]["end"] if tokens else 0)
        for token in tokens:
            for i in range(token["start"], token["end"]):
                roles[i] = textmate_role(token["scopes"])
        out.append(roles)
    return out


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda p: p.name)
def test_textmate_agrees_with_pygments(path: Path, textmate_tokens) -> None:
    text = path.read_text(encoding="utf-8")
    ours = pygments_roles_by_line(text)
    theirs = _textmate_roles_by_line(textmate_tokens[path])
    assert len(ours) == len(theirs)
    seen: set[str] = set()
    for number, (line, mine, tm) in enumerate(zip(text.split("\n"), ours, theirs), start=1):
        tm = tm + [None] * (len(mine) - len(tm))
        for column, (a, b) in enumerate(zip(mine, tm), start=1):
            assert a == b, f"{path.name}:{number}:{column} `{line.strip()}`: Pygments says {a}, TextMate {b}"
        seen.update(r for r in mine if r)
    if path in VALID_FILES:
        assert {"keyword", "number", "comment", "function", "series"} <= seen
