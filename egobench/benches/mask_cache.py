"""A folder of computed masks, keyed by image content, resolution and segmenter settings."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from egobench.atomic import save_image_atomic

logger = logging.getLogger(__name__)


class MaskCache:
    """Stores each computed mask as `<key>.png` in `folder` (the run folder's `masks/`).

    The key hashes the image's encoded bytes, so a renamed or moved file still hits the cache and an
    edited file misses it. Files are written atomically, so an interrupted run leaves no half mask.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def key(image_bytes: bytes, resolution: int, segmenter: str, box=None) -> str:
        """Return the cache key of the mask computed by `segmenter` for an image at `resolution`."""
        digest = hashlib.sha256()
        digest.update(image_bytes)
        digest.update(f"|{resolution}|{segmenter}|{box}".encode())
        return f"{digest.hexdigest()[:32]}-{resolution}"

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.png"

    def get(self, key: str) -> np.ndarray | None:
        """Return the cached mask for `key`, or None when it is absent or unreadable."""
        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with Image.open(path) as image:
                return np.asarray(image.convert("L")) >= 128
        except (UnidentifiedImageError, OSError) as error:
            logger.warning("ignoring unreadable cached mask %s (%s); computing it again", path, error)
            return None

    def put(self, key: str, mask: np.ndarray) -> None:
        save_image_atomic(Image.fromarray(mask.astype(np.uint8) * 255, mode="L"), self.path(key))
