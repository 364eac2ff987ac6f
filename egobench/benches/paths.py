"""Resolving the paths that benchmark files name, without leaving the data root."""

from __future__ import annotations

import os
from pathlib import Path

from egobench.errors import InputError


def path_inside(root: str | Path, value: str, label: str) -> Path:
    """Return `value` (relative to `root`, or absolute) as an absolute path inside `root`.

    Raise `InputError` starting with `label` when the path leaves the root, for example through `..`.
    The check is on the normalised path, so a symbolic link inside the root that points elsewhere
    is followed on purpose: users link large image folders into a data root.
    """
    root = Path(os.path.abspath(root))
    text = value.replace("\\", "/") if os.sep == "/" else value
    path = Path(os.path.normpath(root / text))
    if path != root and root not in path.parents:
        raise InputError(f"{label}: path {value!r} leaves the data root {root}; use a path inside it")
    return path


def relative_to_root(path: str, root: str | Path) -> str:
    """Return `path` relative to `root` for display, or unchanged when it lies elsewhere or is a key."""
    try:
        return str(Path(path).relative_to(os.path.abspath(root)))
    except ValueError:
        return path
