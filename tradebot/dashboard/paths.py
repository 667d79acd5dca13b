"""A path from a request becomes a file only here: resolved (symlinks and `..` included) and
refused unless it lies inside one of the allowed roots."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..errors import UsageError


class OutsideError(UsageError):
    """A request named a path outside the project, the store and the session folders."""


def inside(roots: tuple[Path, ...], text: str, *, base: Path, suffixes: tuple[str, ...] = ()) -> Path:
    """`text` (relative to `base`, forward or back slashes) as an existing file under one of `roots`."""
    if not text or "\x00" in text:
        raise OutsideError("no path given")
    relative = PurePosixPath(text.replace("\\", "/"))
    candidate = Path(text) if Path(text).is_absolute() or relative.is_absolute() else base.joinpath(*relative.parts)
    resolved = candidate.resolve()
    if not any(resolved.is_relative_to(root) for root in roots):
        raise OutsideError(f"{text}: outside the project folder")
    if suffixes and resolved.suffix.lower() not in suffixes:
        raise OutsideError(f"{text}: not a {' or '.join(suffixes)} file")
    if not resolved.is_file():
        raise OutsideError(f"{text}: no such file")
    return resolved


def shown(path: Path, base: Path) -> str:
    """`path` as the pages name it: relative to `base` with forward slashes when it lies under it."""
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return path.as_posix()
