"""Syntax-error recovery: the script split into statements once, each parsed once, in place.

When the whole script does not parse, each statement is parsed on its own so one mistake does not
hide the next (issue 11.6), in time linear in the script's length (issue 10.12: re-parsing blanked
copies of the whole script for every statement took 129 s on 64 KB). A statement's positions are
shifted back to where it sits in the script, so carets and spans stay right.
"""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from lark import Token, Tree

from .ast import Span
from .diagnostics import Diagnostic
from .settings import SETTINGS

# Deepest statement the parser hands on (levels of its parse tree): the transformer, the checker
# and the compiler recurse once per level, and Python's stack allows about a thousand calls.
MAX_NESTING = 200

# Words that can only start a statement: inside an unclosed bracket, a line starting with one (or
# with `name =`, or a setting's name) at column 1 begins the next statement, so an unclosed `(`
# costs one statement, not the rest of the file.
_STATEMENT_START = re.compile(
    r"(?:strategy|param|def|enter|exit|optimize)\b|[A-Za-z_]\w*[ \t]*=(?!=)"
    r"|(?:" + "|".join(sorted(map(re.escape, SETTINGS), key=len, reverse=True)) + r")\b")
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_DEFINED = re.compile(r"(?:def|param)[ \t]+([A-Za-z_]\w*)|([A-Za-z_]\w*)[ \t]*=(?!=)")


@dataclass(frozen=True)
class Chunk:
    """One top-level statement's text (with the comments and blank lines after it)."""

    text: str
    line: int  # 1-based line of its first character in the script
    start: int  # offset of its first character in the script


def statement_chunks(source: str) -> list[Chunk]:
    """The script cut where statements begin: a line starting at column 1 outside brackets, or
    one that can only start a statement. The first chunk starts at the top of the script."""
    chunks: list[Chunk] = []
    begin, begin_line, depth, offset = 0, 1, 0, 0
    lines = source.split("\n")
    for number, line in enumerate(lines, start=1):
        starts = line[:1] not in ("", " ", "\t", "\r", "#", "\f") and (depth == 0 or _STATEMENT_START.match(line))
        if starts and offset > begin:
            chunks.append(Chunk(source[begin:offset], begin_line, begin))
            begin, begin_line, depth = offset, number, 0
        depth = max(0, depth + _bracket_balance(line))
        offset += len(line) + (1 if number < len(lines) else 0)
    chunks.append(Chunk(source[begin:], begin_line, begin))
    return chunks


def _bracket_balance(line: str) -> int:
    code = _STRING.sub("", line).split("#", 1)[0]
    return sum(code.count(c) for c in "([") - sum(code.count(c) for c in ")]")


def defined_name(chunk: Chunk) -> str | None:
    """The name a statement that failed to parse would have defined (`x = …`, `def f(…`,
    `param n …`): the checker then stays quiet about its uses instead of calling it unknown."""
    match = _DEFINED.match(chunk.text.lstrip("\n\r\t "))
    return (match.group(1) or match.group(2)) if match else None


def tree_depth(tree: Tree) -> int:
    """The parse tree's depth, without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def shift_tree(tree: Tree, lines: int, chars: int) -> None:
    """Move every position in a chunk's parse tree to where the chunk sits in the script."""
    if not (lines or chars):
        return
    for sub in tree.iter_subtrees():
        meta = sub.meta
        if not getattr(meta, "empty", True):
            meta.line += lines
            meta.end_line += lines
            meta.start_pos += chars
            meta.end_pos += chars
        for child in sub.children:
            if isinstance(child, Token) and child.line is not None:
                child.line += lines
                child.end_line = (child.end_line or child.line - lines) + lines
                child.start_pos = (child.start_pos or 0) + chars
                child.end_pos = (child.end_pos or 0) + chars


def shift_diagnostic(diag: Diagnostic, chunk: Chunk) -> Diagnostic:
    span, lines = diag.span, chunk.line - 1
    return dataclasses.replace(diag, span=Span(span.line + lines, span.column, span.end_line + lines,
                                               span.end_column, span.start + chunk.start,
                                               span.end + chunk.start))


def nesting_diagnostic(chunk: Chunk) -> Diagnostic:
    first = chunk.text.lstrip("\n").split("\n", 1)[0]
    skipped = len(chunk.text) - len(chunk.text.lstrip("\n"))
    span = Span(chunk.line + skipped, 1, chunk.line + skipped, len(first) + 1,
                chunk.start + skipped, chunk.start + skipped + len(first))
    return Diagnostic(f"expression nested too deeply (limit {MAX_NESTING} levels)", span,
                      "split it into named definitions (`a = ...`) and use the names")
