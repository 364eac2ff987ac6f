"""Atomic file writes: a file appears under its final name only once it is complete."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds.

    The temporary file lives in the same folder so that the final `os.replace` is atomic. If the
    block raises, the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    temporary_path = Path(temporary)
    # mkstemp creates the file as 0600; give the final file the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temporary_path, 0o666 & ~umask)
    try:
        yield temporary_path
        os.replace(temporary_path, path)
    finally:
        if temporary_path.exists():
            temporary_path.unlink()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` so that readers never see a half-written file."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def save_image_atomic(image, path: str | os.PathLike) -> None:
    """Save a PIL image to `path` atomically; the format follows the final suffix."""
    path = Path(path)
    with atomic_path(path) as temporary:
        image.save(temporary, format=_pil_format(path.suffix))


def _pil_format(suffix: str) -> str:
    formats = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
    try:
        return formats[suffix.lower()]
    except KeyError as error:
        raise ValueError(f"unsupported image suffix {suffix!r}; use one of {sorted(formats)}") from error
