"""Object masks: read from files, or computed by a segmenter when the benchmark has none.

Segmenters live in a registry like the benchmarks: `@register_segmenter("NAME")` makes a class
available to `create_segmenter("NAME")`. The default, GrabCut, needs no weights. A learned segmenter
(SAM, a U^2-Net salient-object model) would subclass `Segmenter`, load its weights in `__init__` and
register itself the same way.
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from egobench.errors import ConfigError, InputError

# (left, top, right, bottom) in pixels of the original image, right and bottom exclusive.
Box = tuple[int, int, int, int]

# A mask covering less than this share of the image is almost certainly a failed segmentation.
MIN_MASK_FRACTION = 0.002
# A mask covering more than this share leaves no background to preserve or to compare.
MAX_MASK_FRACTION = 0.98


class Segmenter(ABC):
    """Produces an object mask for an RGB image, optionally seeded by a box around the object."""

    name: str = ""

    @abstractmethod
    def __call__(self, image: Image.Image, box: Box | None = None) -> np.ndarray:
        """Return a boolean (height, width) mask, True on the main object."""

    def signature(self) -> str:
        """Return the segmenter's name and settings; masks cached under another signature are not reused."""
        settings = ",".join(f"{key}={value}" for key, value in sorted(vars(self).items()))
        return f"{self.name}({settings})"


_SEGMENTERS: dict[str, type[Segmenter]] = {}


def register_segmenter(name: str) -> Callable[[type[Segmenter]], type[Segmenter]]:
    """Make a `Segmenter` subclass available to `create_segmenter` under `name`."""

    def decorate(cls: type[Segmenter]) -> type[Segmenter]:
        cls.name = name
        _SEGMENTERS[name] = cls
        return cls

    return decorate


def list_segmenters() -> list[str]:
    return sorted(_SEGMENTERS)


def create_segmenter(name: str, **options) -> Segmenter:
    """Build the segmenter registered as `name`."""
    try:
        cls = _SEGMENTERS[name]
    except KeyError:
        raise ConfigError(f"unknown segmenter {name!r}; choose one of: {', '.join(list_segmenters())}") from None
    return cls(**options)


@register_segmenter("grabcut")
class GrabCutSegmenter(Segmenter):
    """OpenCV GrabCut seeded with a box: needs no weights.

    Without a box, the seed box covers the central `box_fraction` of each side, which suits
    object-centric photos such as DreamBooth's. GrabCut is unstable on some photos: a small change
    of the box can turn a good mask into an empty one. So when the mask covers less than
    `MIN_MASK_FRACTION` or more than `MAX_MASK_FRACTION` of the image, it is computed again with each
    of `retry_box_fractions` in turn, and the first usable mask wins. GrabCut runs on a copy
    downscaled to `work_size` pixels on the long side; the mask is scaled back to the image.
    """

    def __init__(
        self,
        box_fraction: float = 0.8,
        retry_box_fractions: tuple[float, ...] = (0.9, 0.65),
        iterations: int = 5,
        work_size: int = 256,
    ):
        self.box_fraction = box_fraction
        self.retry_box_fractions = tuple(retry_box_fractions)
        self.iterations = iterations
        self.work_size = work_size

    def __call__(self, image: Image.Image, box: Box | None = None) -> np.ndarray:
        width, height = image.size
        scale = self.work_size / max(width, height)
        small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR)
        pixels = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2BGR)
        small_height, small_width = pixels.shape[:2]

        if box is not None:
            small_box = tuple(round(value * scale) for value in box)
            small_mask = self._grabcut(pixels, small_box)
        else:
            for fraction in (self.box_fraction, *self.retry_box_fractions):
                margin_x = round(small_width * (1 - fraction) / 2)
                margin_y = round(small_height * (1 - fraction) / 2)
                small_box = (margin_x, margin_y, small_width - margin_x, small_height - margin_y)
                small_mask = self._grabcut(pixels, small_box)
                if MIN_MASK_FRACTION <= small_mask.mean() <= MAX_MASK_FRACTION:
                    break

        mask_image = Image.fromarray(small_mask.astype(np.uint8) * 255, mode="L")
        return np.asarray(mask_image.resize((width, height), Image.Resampling.NEAREST)) >= 128

    def _grabcut(self, pixels: np.ndarray, box: Box) -> np.ndarray:
        height, width = pixels.shape[:2]
        left, top, right, bottom = box
        # GrabCut needs some pixels outside the box to model the background.
        left, top = max(1, left), max(1, top)
        right, bottom = min(width - 1, right), min(height - 1, bottom)
        if right - left < 2 or bottom - top < 2:
            return np.zeros((height, width), dtype=bool)

        # GrabCut's Gaussian mixtures are randomly initialised; a fixed seed keeps masks identical across runs.
        cv2.setRNGSeed(0)
        labels = np.zeros((height, width), np.uint8)
        background_model = np.zeros((1, 65), np.float64)
        foreground_model = np.zeros((1, 65), np.float64)
        rect = (left, top, right - left, bottom - top)
        cv2.grabCut(pixels, labels, rect, background_model, foreground_model, self.iterations, cv2.GC_INIT_WITH_RECT)
        return (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image file, apply its EXIF orientation and binarise it with `binarize_mask`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: mask not found; check the path in the manifest")
    try:
        with Image.open(io.BytesIO(path.read_bytes())) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
            if image.mode in ("P", "PA", "CMYK", "YCbCr", "LAB", "HSV", "1"):
                image = image.convert("RGBA" if "transparency" in image.info or image.mode == "PA" else "L")
            array = np.asarray(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        raise InputError(f"{path}: not a readable mask image ({error}); replace the file") from error
    return binarize_mask(array)


def binarize_mask(array: np.ndarray) -> np.ndarray:
    """Turn a greyscale, colour or alpha mask array into a boolean mask.

    A pixel is on the object when its value exceeds half the array's maximum, which reads 0/255,
    0/1 and 16-bit masks alike. Colour masks use their brightest channel. A mask whose colour is
    constant but whose alpha varies (a cut-out) uses its alpha channel.
    """
    if array.ndim == 3:
        channels = array.shape[2]
        colour = array[:, :, : 3 if channels >= 3 else 1]
        has_alpha = channels in (2, 4)
        if has_alpha and colour.min() == colour.max():
            array = array[:, :, -1]
        else:
            array = colour.max(axis=2)
    array = array.astype(np.float64)
    peak = array.max() if array.size else 0.0
    if peak <= 0:
        return np.zeros(array.shape, dtype=bool)
    return array > peak / 2


def check_mask(mask: np.ndarray, label: str) -> None:
    """Raise `InputError` for an empty, nearly full or tiny mask; the message starts with `label` (pair id and role)."""
    fraction = float(mask.mean()) if mask.size else 0.0
    if fraction == 0.0:
        raise InputError(f"{label}: mask is empty; provide a mask file or a different image")
    if fraction > MAX_MASK_FRACTION:
        raise InputError(f"{label}: mask covers {fraction:.1%} of the image; provide a tighter mask")
    if fraction < MIN_MASK_FRACTION:
        percentage = f"{fraction:.2%}" if fraction >= 0.0001 else "less than 0.01%"
        raise InputError(f"{label}: mask covers only {percentage} of the image; provide a larger mask")
