"""Object crop boxes taken from masks."""

from __future__ import annotations

import numpy as np
from PIL import Image

from egobench.metrics.crops import crop_to_mask, mask_box, scale_box


def _image(width: int, height: int) -> Image.Image:
    pixels = np.arange(width * height * 3, dtype=np.uint32).reshape(height, width, 3) % 251
    return Image.fromarray(pixels.astype(np.uint8))


def test_mask_box_is_tight_and_exclusive():
    mask = np.zeros((40, 60), dtype=bool)
    mask[5:12, 30:45] = True
    mask[20, 10] = True
    assert mask_box(mask) == (10, 5, 45, 21)


def test_mask_box_of_empty_mask():
    assert mask_box(np.zeros((8, 8), dtype=bool)) is None


def test_full_mask_crops_nothing():
    image = _image(48, 32)
    full = np.ones((32, 48), dtype=bool)
    assert mask_box(full) == (0, 0, 48, 32)
    assert crop_to_mask(image, full) is image


def test_crop_takes_the_mask_box():
    image = _image(48, 32)
    mask = np.zeros((32, 48), dtype=bool)
    mask[4:20, 8:30] = True

    crop = crop_to_mask(image, mask)
    assert crop.size == (22, 16)
    assert np.array_equal(np.asarray(crop), np.asarray(image)[4:20, 8:30])


def test_crop_of_empty_mask_is_none():
    assert crop_to_mask(_image(8, 8), np.zeros((8, 8), dtype=bool)) is None


def test_mask_box_scales_to_larger_image():
    assert scale_box((10, 5, 45, 21), (60, 40), (120, 80)) == (20, 10, 90, 42)
    # A box that does not land on whole pixels grows outward.
    assert scale_box((1, 1, 2, 2), (3, 3), (4, 4)) == (1, 1, 3, 3)
    assert scale_box((0, 0, 3, 3), (3, 3), (4, 4)) == (0, 0, 4, 4)


def test_crop_with_mask_of_other_size():
    image = _image(64, 64)
    mask = np.zeros((32, 32), dtype=bool)
    mask[8:16, 4:12] = True
    assert crop_to_mask(image, mask).size == (16, 16)
