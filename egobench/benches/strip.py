"""The pair strip: one image that shows an edit's inputs, masks and output side by side."""

from __future__ import annotations

import numpy as np
from PIL import Image

from egobench.benches.base import LoadedPair

# Share of brightness kept outside the mask: the object is easy to see and the scene stays readable.
_BACKGROUND_BRIGHTNESS = 0.3


def mask_overlay(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """Return `image` with the masked object in colour and everything else dimmed and grey."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    grey = pixels.mean(axis=2, keepdims=True).repeat(3, axis=2) * _BACKGROUND_BRIGHTNESS
    composite = np.where(mask[:, :, None], pixels, grey)
    return Image.fromarray(composite.round().astype(np.uint8), mode="RGB")


def pair_strip(loaded: LoadedPair, edited: Image.Image | None = None) -> Image.Image:
    """Return source | source mask | reference | reference mask | edited, each panel at the pair's resolution.

    Mask panels show the mask over its image (see `mask_overlay`); without `edited` the strip has four panels.
    """
    panels = [
        loaded.source,
        mask_overlay(loaded.source, loaded.source_mask),
        loaded.reference,
        mask_overlay(loaded.reference, loaded.reference_mask),
    ]
    if edited is not None:
        panels.append(edited.convert("RGB").resize(loaded.source.size))

    width, height = loaded.source.size
    strip = Image.new("RGB", (width * len(panels), height))
    for index, panel in enumerate(panels):
        strip.paste(panel, (index * width, 0))
    return strip
