"""Bounding boxes of object masks, shared by the methods that cut or place an object."""

from __future__ import annotations

import numpy as np
from PIL import Image

from egobench.errors import InputError

# A box is (left, top, right, bottom) in pixels, right and bottom exclusive, as PIL's `crop` takes it.
Box = tuple[int, int, int, int]


def mask_box(mask: np.ndarray, label: str = "mask") -> Box:
    """Return the tightest box around the True pixels of a boolean (height, width) mask.

    Raises `InputError` naming `label` (the pair and role) when the mask is empty.
    """
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        raise InputError(f"{label}: mask is empty, so there is no object box; provide a mask that covers the object")
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def crop_object(image: Image.Image, mask: np.ndarray, label: str = "mask") -> tuple[Image.Image, np.ndarray]:
    """Crop an image and its mask to the mask's box; returns the RGB crop and the boolean mask crop."""
    left, top, right, bottom = mask_box(mask, label)
    return image.convert("RGB").crop((left, top, right, bottom)), mask[top:bottom, left:right]
