"""Object masks: read from files, or computed by a segmenter when the benchmark has none."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from egobench.errors import InputError

# A mask covering less than this share of the image is almost certainly a failed segmentation.
MIN_MASK_FRACTION = 0.002
# A mask covering more than this share leaves no background to preserve or to compare.
MAX_MASK_FRACTION = 0.98


class Segmenter(ABC):
    """Produces an object mask for an RGB image; learned segmenters subclass this."""

    name: str = ""

    @abstractmethod
    def __call__(self, image: Image.Image) -> np.ndarray:
        """Return a boolean (height, width) mask, True on the main object."""


class GrabCutSegmenter(Segmenter):
    """OpenCV GrabCut seeded with a centred box: needs no weights.

    The seed box covers the central `box_fraction` of each side, which suits object-centric photos
    such as DreamBooth's. GrabCut runs on a copy downscaled to `work_size` pixels on the long side.
    """

    name = "grabcut"

    def __init__(self, box_fraction: float = 0.8, iterations: int = 5, work_size: int = 256):
        self.box_fraction = box_fraction
        self.iterations = iterations
        self.work_size = work_size

    def __call__(self, image: Image.Image) -> np.ndarray:
        width, height = image.size
        scale = self.work_size / max(width, height)
        small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR)
        pixels = cv2.cvtColor(np.asarray(small), cv2.COLOR_RGB2BGR)
        small_height, small_width = pixels.shape[:2]

        margin_x = round(small_width * (1 - self.box_fraction) / 2)
        margin_y = round(small_height * (1 - self.box_fraction) / 2)
        box = (margin_x, margin_y, small_width - 2 * margin_x, small_height - 2 * margin_y)

        # GrabCut's Gaussian mixtures are randomly initialised; a fixed seed keeps masks identical across runs.
        cv2.setRNGSeed(0)
        labels = np.zeros((small_height, small_width), np.uint8)
        background_model = np.zeros((1, 65), np.float64)
        foreground_model = np.zeros((1, 65), np.float64)
        cv2.grabCut(pixels, labels, box, background_model, foreground_model, self.iterations, cv2.GC_INIT_WITH_RECT)
        small_mask = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)

        mask_image = Image.fromarray(small_mask.astype(np.uint8) * 255, mode="L")
        return np.asarray(mask_image.resize((width, height), Image.Resampling.NEAREST)) >= 128


def read_mask(path: str | Path) -> np.ndarray:
    """Read a mask image and binarise it: any channel above half intensity is the object."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: mask not found; check the path in the manifest")
    with Image.open(path) as image:
        array = np.asarray(image.convert("L"))
    return array >= 128


def check_mask(mask: np.ndarray, what: str) -> None:
    """Reject empty, nearly full and tiny masks with a message naming `what` (a pair id and role)."""
    fraction = float(mask.mean()) if mask.size else 0.0
    if fraction == 0.0:
        raise InputError(f"{what}: mask is empty; provide a mask file or a different image")
    if fraction > MAX_MASK_FRACTION:
        raise InputError(f"{what}: mask covers {fraction:.1%} of the image; provide a tighter mask")
    if fraction < MIN_MASK_FRACTION:
        raise InputError(f"{what}: mask covers only {fraction:.2%} of the image; provide a larger mask")
