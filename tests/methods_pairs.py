"""Synthetic edit pairs for the method tests: flat colours and boxes whose expected edits are known."""

from __future__ import annotations

import numpy as np
from PIL import Image

from egobench.benches.base import EditPair, LoadedPair

SOURCE_BACKGROUND = (40, 90, 160)
SOURCE_OBJECT = (230, 230, 230)
REFERENCE_BACKGROUND = (20, 140, 20)
REFERENCE_OBJECT = (220, 30, 30)


def synthetic_pair(pair_id: str = "cat-found0-00", resolution: int = 64) -> LoadedPair:
    """Return a pair whose source object fills a square box and whose reference object is a tall box.

    At 64 px the source box is columns 16-47, rows 16-47 (32 x 32); the reference box is columns
    24-39, rows 8-55 (16 x 48), so a fit that keeps the aspect ratio is 11 x 32 (rounded) pixels.
    """
    unit = resolution // 64
    source = np.zeros((resolution, resolution, 3), np.uint8)
    source[:] = SOURCE_BACKGROUND
    source_mask = np.zeros((resolution, resolution), bool)
    source_mask[16 * unit : 48 * unit, 16 * unit : 48 * unit] = True
    source[source_mask] = SOURCE_OBJECT

    reference = np.zeros((resolution, resolution, 3), np.uint8)
    reference[:] = REFERENCE_BACKGROUND
    reference_mask = np.zeros((resolution, resolution), bool)
    reference_mask[8 * unit : 56 * unit, 24 * unit : 40 * unit] = True
    reference[reference_mask] = REFERENCE_OBJECT

    pair = EditPair(
        pair_id=pair_id,
        source_image=f"/data/{pair_id}/source.jpg",
        reference_image=f"/data/{pair_id}/reference.jpg",
        source_class="cat",
        reference_class="cat",
        source_prompt="a photo of a cat",
        reference_prompt="a photo of a cat",
        target_prompt="a photo of a cat",
    )
    return LoadedPair(pair, Image.fromarray(source), source_mask, Image.fromarray(reference), reference_mask)
