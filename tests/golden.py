"""The one golden-file comparison: parse trees (.ast), rendered errors (.err), token streams.

Goldens are written with "\n" newlines on every platform, so `--update-goldens` on Windows does
not rewrite them all with CRLF; they are read back with universal newlines."""
from __future__ import annotations

from pathlib import Path

import pytest


def compare_golden(path: Path, actual: str, update: bool) -> None:
    """Assert `actual` equals the golden at `path`; with `update` (or no golden yet), write it."""
    if update or not path.exists():
        path.write_text(actual, encoding="utf-8", newline="\n")
        if not update:
            pytest.fail(f"{path.name} did not exist; written — review it and run again")
    assert actual == path.read_text(encoding="utf-8"), f"{path} differs (run with --update-goldens if intended)"
