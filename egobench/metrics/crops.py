"""Object crops: the bounding box of a mask, carried over to an image of another size."""

from __future__ import annotations

import numpy as np
from PIL import Image

Box = tuple[int, int, int, int]


def mask_box(mask: np.ndarray) -> Box | None:
    """Return the tight bounding box (left, top, right, bottom) of a boolean mask, or None when it is empty.

    `right` and `bottom` are exclusive, as in `PIL.Image.crop`, so a full-image mask of shape
    (height, width) gives (0, 0, width, height).
    """
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return None
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def scale_box(box: Box, from_size: tuple[int, int], to_size: tuple[int, int]) -> Box:
    """Map a box on a `from_size` (width, height) image onto a `to_size` image, growing it to whole pixels."""
    if from_size == to_size:
        return box
    scale_x = to_size[0] / from_size[0]
    scale_y = to_size[1] / from_size[1]
    left, top, right, bottom = box
    return (
        int(np.floor(left * scale_x)),
        int(np.floor(top * scale_y)),
        min(to_size[0], int(np.ceil(right * scale_x))),
        min(to_size[1], int(np.ceil(bottom * scale_y))),
    )


def crop_to_mask(image: Image.Image, mask: np.ndarray) -> Image.Image | None:
    """Crop `image` to the bounding box of `mask`; None when the mask is empty.

    The mask may have another size than the image (a method that writes a different resolution),
    in which case its box is scaled onto the image. A box that covers the whole image returns the
    image itself, uncropped.
    """
    box = mask_box(mask)
    if box is None:
        return None
    mask_size = (mask.shape[1], mask.shape[0])
    box = scale_box(box, mask_size, image.size)
    if box == (0, 0, *image.size):
        return image
    return image.crop(box)
