"""Reading images and masks into the model's square resolution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from egobench.errors import InputError


def open_rgb(path: str | Path) -> Image.Image:
    """Open an image file with its EXIF orientation applied, converted to 8-bit RGB."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: image not found; check the path or the --data-root option")
    try:
        with Image.open(path) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"{path}: not a readable image ({error}); replace or remove the file") from error
    return to_rgb(image)


def to_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode (RGBA, palette, greyscale, CMYK, 16-bit) to 8-bit RGB."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        array = np.asarray(image, dtype=np.float64)
        peak = array.max() if array.max() > 0 else 1.0
        image = Image.fromarray(np.clip(array / peak * 255.0, 0, 255).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
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
