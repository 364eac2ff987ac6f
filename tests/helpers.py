"""Builders shared by the tests: synthetic photos, loaded pairs and a DreamEditBench-layout folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from egobench.benches.base import EditPair, LoadedPair


def object_photo(size: int, colour: tuple[int, int, int], box: tuple[float, float, float, float], seed: int = 0) -> Image.Image:
    """Return a textured background with a filled ellipse (the object) inside `box` (fractions of the side)."""
    rng = np.random.default_rng(seed)
    background = rng.integers(90, 140, size=(size, size, 3), dtype=np.uint8)
    image = Image.fromarray(background, mode="RGB")
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = (round(value * size) for value in box)
    draw.ellipse((left, top, right, bottom), fill=colour)
    return image


def ellipse_mask(size: int, box: tuple[float, float, float, float]) -> np.ndarray:
    mask = Image.new("L", (size, size), 0)
    left, top, right, bottom = (round(value * size) for value in box)
    ImageDraw.Draw(mask).ellipse((left, top, right, bottom), fill=255)
    return np.asarray(mask) >= 128


def loaded_pair(size: int = 128, pair_id: str = "pair-0") -> LoadedPair:
    """A source with a red object on the left and a reference with a blue object in the centre."""
    source_box = (0.1, 0.25, 0.55, 0.75)
    reference_box = (0.3, 0.3, 0.75, 0.7)
    pair = EditPair(
        pair_id=pair_id,
        source_image="source.png",
        reference_image="reference.png",
        source_class="ball",
        reference_class="cube",
        source_prompt="a photo of a ball",
        reference_prompt="a photo of a cube",
        target_prompt="a photo of a cube",
    )
    return LoadedPair(
        pair,
        object_photo(size, (200, 40, 40), source_box, seed=1),
        ellipse_mask(size, source_box),
        object_photo(size, (40, 40, 200), reference_box, seed=2),
        ellipse_mask(size, reference_box),
    )


def dreamedit_layout(root: Path, subjects: dict[str, int], references: int = 2) -> tuple[Path, Path]:
    """Write `replacement_source/<subject>/foundN.jpg` and DreamBooth-style `<subject>/NN.jpg` photos."""
    data_root = root / "dreamedit"
    subject_root = root / "dreambooth"
    rows = ["subject_name,class"]
    for index, (subject, count) in enumerate(subjects.items()):
        folder = data_root / "replacement_source" / subject
        folder.mkdir(parents=True)
        for number in range(count):
            colour = (60 + 30 * number % 190, 200 - 20 * index % 150, 90)
            object_photo(160, colour, (0.25, 0.25, 0.75, 0.75), seed=number).save(folder / f"found{number}.jpg")
        (subject_root / subject).mkdir(parents=True)
        for number in range(references):
            object_photo(160, (30, 30 + 40 * number, 220), (0.2, 0.2, 0.8, 0.8), seed=100 + number).save(subject_root / subject / f"{number:02d}.jpg")
        rows.append(f"{subject},{subject.rstrip('0123456789')}")
    (subject_root / "classes.csv").write_text("\n".join(rows) + "\n")
    return data_root, subject_root
