"""A generated edit pair for profiling: textured backgrounds with one elliptical object each.

Cost does not depend on what the pixels show, only on image size and mask area, so a generated
pair measures the loop as well as a photo does. The masks cover about a sixth of each image, close
to a DreamEditBench object.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from egobench.benches.base import EditPair, LoadedPair

SOURCE_BOX = (0.1, 0.25, 0.55, 0.75)
REFERENCE_BOX = (0.3, 0.3, 0.75, 0.7)


def object_photo(size: int, colour: tuple[int, int, int], box: tuple[float, float, float, float], seed: int = 0) -> Image.Image:
    """Return a textured background with a filled ellipse (the object) inside `box` (fractions of the side)."""
    rng = np.random.default_rng(seed)
    image = Image.fromarray(rng.integers(90, 140, size=(size, size, 3), dtype=np.uint8), mode="RGB")
    ImageDraw.Draw(image).ellipse(_pixels(box, size), fill=colour)
    return image


def ellipse_mask(size: int, box: tuple[float, float, float, float]) -> np.ndarray:
    """Return the boolean mask of the ellipse that `object_photo` draws in `box`."""
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse(_pixels(box, size), fill=255)
    return np.asarray(mask) >= 128


def _pixels(box: tuple[float, float, float, float], size: int) -> tuple[int, int, int, int]:
    left, top, right, bottom = (round(value * size) for value in box)
    return left, top, right, bottom


def synthetic_pair(resolution: int, pair_id: str = "synthetic-0", seed: int = 0) -> LoadedPair:
    """Return a loaded pair at `resolution`: a red ball on the left to be replaced by a blue cube."""
    pair = EditPair(
        pair_id=pair_id,
        source_image="<generated>",
        reference_image="<generated>",
        source_class="ball",
        reference_class="cube",
        source_prompt="a photo of a ball",
        reference_prompt="a photo of a cube",
        target_prompt="a photo of a cube",
    )
    return LoadedPair(
        pair,
        object_photo(resolution, (200, 40, 40), SOURCE_BOX, seed + 1),
        ellipse_mask(resolution, SOURCE_BOX),
        object_photo(resolution, (40, 40, 200), REFERENCE_BOX, seed + 2),
        ellipse_mask(resolution, REFERENCE_BOX),
    )
