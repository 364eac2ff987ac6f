"""Reading images and masks into the model's square resolution."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from egobench.errors import InputError

_HIGH_BIT_DEPTH_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def read_image_file(path: str | Path) -> tuple[Image.Image, bytes]:
    """Read an image file and return it as 8-bit RGB with EXIF orientation applied, and its bytes.

    The bytes identify the image for the mask cache.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: image not found; check the path or the --data-root option")
    data = path.read_bytes()
    return decode_image(data, str(path)), data


def decode_image(data: bytes, name: str) -> Image.Image:
    """Decode encoded image bytes to 8-bit RGB with EXIF orientation applied; `name` goes into errors."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as error:
        # PIL's message names its in-memory buffer, which means nothing to the user; keep the error type only.
        raise InputError(f"{name}: not a readable image ({type(error).__name__}); replace or remove the file") from error
    return to_rgb(image)


def open_rgb(path: str | Path) -> Image.Image:
    """Open an image file with its EXIF orientation applied, converted to 8-bit RGB."""
    return read_image_file(path)[0]


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, palette, greyscale, CMYK, 16-bit, float) to 8-bit RGB.

    High-bit-depth greyscale is scaled by its own maximum, because 16-bit files rarely use the full
    range. Transparent pixels are composited onto white.
    """
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.max() > 0 else 1.0
        image = Image.fromarray(np.clip(array / peak * 255.0, 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    return image.convert("RGB")


def center_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Return the largest centred square (left, top, right, bottom) inside a width x height image."""
    side = min(width, height)
    left = (width - side) // 2
    top = (height - side) // 2
    return left, top, left + side, top + side


def resize_center_crop(image: Image.Image, resolution: int, resample=Image.Resampling.BICUBIC) -> Image.Image:
    """Crop the centred square and resize it to `resolution` x `resolution`."""
    box = center_crop_box(*image.size)
    return image.crop(box).resize((resolution, resolution), resample=resample)


def mask_to_square(mask: np.ndarray, resolution: int) -> np.ndarray:
    """Apply the same centre crop and resize as `resize_center_crop` to a boolean mask."""
    image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    square = resize_center_crop(image, resolution, resample=Image.Resampling.BILINEAR)
    return np.asarray(square) >= 128


def fit_mask_to_image(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a boolean mask to `size` (width, height) when it differs, so that it lies on the image."""
    height, width = mask.shape
    if (width, height) == tuple(size):
        return mask
    image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L")
    return np.asarray(image.resize(tuple(size), Image.Resampling.NEAREST)) >= 128
