"""Command-line values shared by several commands, checked before anything runs.

- `parse_overrides` - the `--set NAME=VALUE` grammar (a number, a percentage such as `2%`,
  `true` / `false`, or a word: a string param's choice).
- `output_folder` - a `--out DIR` that can hold the run's files, or a usage error now rather
  than a traceback after the whole backtest.
- `output_file` - the same for a `--out FILE`.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterable

from ..errors import UsageError


def parse_overrides(pairs: Iterable[str]) -> dict[str, float | bool | str]:
    """`--set name=value` flags → {name: value}: finite numbers or percentages (`2%`), `true` /
    `false`, or the text itself (a string param's choice); the checker says when one does not
    fit its param."""
    overrides: dict[str, float | bool | str] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name or not text:
            raise UsageError(f"--set {pair}: expected NAME=VALUE, for example --set length=20")
        number = text[:-1] if text.endswith("%") else text
        try:
            value = float(number.replace("_", ""))
        except ValueError:
            overrides[name] = {"true": True, "false": False}.get(text, text.strip('"'))
            continue
        if not math.isfinite(value):  # float() reads `nan` and `inf`; no param can take them
            raise UsageError(f"--set {pair}: `{text}` is not a finite number; give a value such as "
                             f"--set {name}=20")
        overrides[name] = value / 100 if text.endswith("%") else value
    return overrides


def output_folder(path: Path, *, flag: str = "--out") -> Path:
    """`path` if it is a folder or can be made one (it is created when the files are written)."""
    existing = _existing_ancestor(path, flag)
    if existing == path and not path.is_dir():
        raise UsageError(f"{flag} {path}: this is a file; {flag} names a folder for the run's files "
                         f"(it is created if missing), for example {flag} results/")
    _check_writable_folder(existing, path, flag)
    return path


def output_file(path: Path, *, flag: str = "--out") -> Path:
    """`path` if a file can be written there (its folder exists and is writable)."""
    existing = _existing_ancestor(path, flag)
    if existing == path and path.is_dir():
        raise UsageError(f"{flag} {path}: this is a folder; name a file, for example {path / 'features.csv'}")
    if existing not in (path, path.parent):
        raise UsageError(f"{flag} {path}: the folder {path.parent} does not exist")
    _check_writable_folder(path.parent if existing == path else existing, path, flag)
    return path


def _existing_ancestor(path: Path, flag: str) -> Path:
    """The nearest of `path` and its parents that exists."""
    if "\0" in str(path):  # pathlib says such a path does not exist; the write would then raise
        raise UsageError(f"{flag} {str(path)!r}: not a usable path (it contains a NUL character)")
    try:
        candidate = path
        while not candidate.exists() and candidate != candidate.parent:
            candidate = candidate.parent
    except (ValueError, OSError) as exc:  # a NUL byte, a name too long for the file system
        raise UsageError(f"{flag} {path!s}: not a usable path ({exc})") from None
    return candidate


def _check_writable_folder(folder: Path, path: Path, flag: str) -> None:
    if not folder.is_dir():
        raise UsageError(f"{flag} {path}: cannot create a folder inside {folder}, which is a file")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path}: cannot write into {folder} (permission denied)")
