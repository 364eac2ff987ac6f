"""Generated benchmark folders: small synthetic photos laid out as each benchmark expects."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from egobench.benches.rle import encode_rle

# Pairs of (subject, number of foundN images); cat has an odd count on purpose.
DREAMEDIT_SUBJECTS = {"dog3": 4, "cat": 5, "backpack_dog": 2}
SUBJECT_CLASSES = {"dog3": "dog", "cat": "cat", "backpack_dog": "backpack", "dog": "dog"}


def object_photo(size: tuple[int, int] = (96, 72), seed: int = 0) -> Image.Image:
    """Draw a saturated ellipse (the object) on a grey noisy background, different for every seed."""
    rng = np.random.default_rng(seed)
    width, height = size
    background = rng.normal(120, 12, (height, width, 3)).clip(0, 255).astype(np.uint8)
    image = Image.fromarray(background, mode="RGB")
    colour = (220, int(rng.integers(30, 200)), 40)
    ImageDraw.Draw(image).ellipse(
        (width * 0.3, height * 0.25, width * 0.7, height * 0.75), fill=colour, outline=colour
    )
    return image


def object_mask(size: tuple[int, int] = (96, 72)) -> np.ndarray:
    """Return the boolean mask of the ellipse that `object_photo` draws."""
    width, height = size
    image = Image.new("L", size, 0)
    ImageDraw.Draw(image).ellipse((width * 0.3, height * 0.25, width * 0.7, height * 0.75), fill=255, outline=255)
    return np.asarray(image) >= 128


def build_dreamedit_folder(root: Path, subjects: dict[str, int] = DREAMEDIT_SUBJECTS) -> tuple[Path, Path]:
    """Write `replacement_source/<subject>/foundN.jpg` and a DreamBooth-like subjects folder; return both roots."""
    data_root, subjects_root = root / "dreamedit", root / "dreambooth"
    seed = 0
    for subject, count in subjects.items():
        folder = data_root / "replacement_source" / subject
        folder.mkdir(parents=True)
        for number in range(count):
            seed += 1
            object_photo(seed=seed).save(folder / f"found{number}.jpg", quality=90)
        photos = subjects_root / subject
        photos.mkdir(parents=True)
        for number in range(3):
            seed += 1
            object_photo((80, 80), seed=seed).save(photos / f"{number:02d}.jpg", quality=90)
    (subjects_root / "classes.csv").write_text(
        "subject_name,class\n" + "".join(f"{subject},{SUBJECT_CLASSES[subject]}\n" for subject in subjects)
    )
    return data_root, subjects_root


def pie_entry(image_path: str, blended_word: str, mask, editing_type_id: str = "1", prompt: str | None = None) -> dict:
    """Return one mapping_file.json record."""
    source_word = blended_word.split()[0] if blended_word else "thing"
    return {
        "image_path": image_path,
        "original_prompt": prompt or f"a photo of a {source_word} on a table",
        "editing_prompt": f"a photo of a [{source_word}] on a table",
        "editing_instruction": f"change the {source_word}",
        "editing_type_id": editing_type_id,
        "blended_word": blended_word,
        "mask": mask,
    }


@functools.lru_cache(maxsize=None)
def encoded_disc(index: int) -> tuple[int, ...]:
    """Return `disc_mask(index)` run-length encoded; cached because many tests build the same folder."""
    return tuple(encode_rle(disc_mask(index)))


def disc_mask(index: int, shape=(512, 512)) -> np.ndarray:
    """A filled disc whose position depends on `index`, covering a few percent of the image."""
    rows, columns = np.ogrid[: shape[0], : shape[1]]
    centre_row, centre_column = 100 + (index * 37) % 300, 100 + (index * 53) % 300
    return (rows - centre_row) ** 2 + (columns - centre_column) ** 2 <= 60**2


def build_piebench_folder(root: Path, categories: int = 60, write_images: bool = True) -> Path:
    """Write a PIE-Bench layout with `categories` object words, a few duplicates and unusable entries."""
    root.mkdir(parents=True, exist_ok=True)
    images = root / "annotation_images" / "1_change_object_80"
    images.mkdir(parents=True)
    mapping = {}

    def add(image_id: str, blended_word: str, mask, editing_type_id: str = "1") -> None:
        relative = f"1_change_object_80/{image_id}.jpg"
        if write_images:
            Image.new("RGB", (512, 512), (int(image_id[-3:]) % 256, 90, 160)).save(images / f"{image_id}.jpg")
        mapping[image_id] = pie_entry(relative, blended_word, mask, editing_type_id)

    for index in range(categories):
        add(f"1{index:011d}", f"object{_letters(index)} thing{_letters(index)}", list(encoded_disc(index)))
    # Second images of the first five categories, so categories do not map one-to-one to images.
    for index in range(5):
        add(f"2{index:011d}", f"object{_letters(index)} other", list(encoded_disc(index + 7)))
    # Entries that must never be chosen: no word, a background edit, an ambiguous phrase, an empty mask.
    add("900000000001", "", list(encoded_disc(1)))
    add("900000000002", "sky sunset", list(encoded_disc(2)), editing_type_id="8")
    add("900000000003", "red old car", list(encoded_disc(3)))
    add("900000000004", "lonelyword other", [])
    (root / "mapping_file.json").write_text(json.dumps(mapping))
    return root


def _letters(index: int) -> str:
    # Category words must be letters only; encode the index in base 26.
    text = ""
    index += 26
    while index:
        index, digit = divmod(index, 26)
        text = chr(ord("a") + digit) + text
    return text
