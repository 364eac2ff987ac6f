"""The DreamBooth subject dataset: subject classes and subject photos.

DreamEditBench's subjects are DreamBooth's, so its benchmark reads classes from DreamBooth's
`classes.csv` when `--subjects` points at the dataset, and otherwise from the table below.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from egobench.errors import InputError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}

# The class of each of the 30 DreamBooth subjects, as listed in the dataset's `dataset/prompts_and_classes.txt`
# (github.com/google/dreambooth).
DREAMBOOTH_CLASSES = {
    "backpack": "backpack",
    "backpack_dog": "backpack",
    "bear_plushie": "stuffed animal",
    "berry_bowl": "bowl",
    "can": "can",
    "candle": "candle",
    "cat": "cat",
    "cat2": "cat",
    "clock": "clock",
    "colorful_sneaker": "sneaker",
    "dog": "dog",
    "dog2": "dog",
    "dog3": "dog",
    "dog5": "dog",
    "dog6": "dog",
    "dog7": "dog",
    "dog8": "dog",
    "duck_toy": "toy",
    "fancy_boot": "boot",
    "grey_sloth_plushie": "stuffed animal",
    "monster_toy": "toy",
    "pink_sunglasses": "glasses",
    "poop_emoji": "toy",
    "rc_car": "toy",
    "red_cartoon": "cartoon",
    "robot_toy": "toy",
    "shiny_sneaker": "sneaker",
    "teapot": "teapot",
    "vase": "vase",
    "wolf_plushie": "stuffed animal",
}


def read_classes(subjects_root: Path | None) -> dict[str, str]:
    """Return subject name -> class: `classes.csv` under `subjects_root` over the built-in table."""
    classes = dict(DREAMBOOTH_CLASSES)
    if subjects_root is None:
        return classes
    path = subjects_root / "classes.csv"
    if not path.is_file():
        return classes
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not {"subject_name", "class"} <= set(reader.fieldnames or []):
            raise InputError(f"{path}: expected the columns subject_name,class; fix the header")
        for row in reader:
            classes[row["subject_name"].strip()] = row["class"].strip()
    return classes


def subject_class(classes: dict[str, str], subject: str) -> str:
    """Return the class of `subject`, falling back to its name with spaces for underscores."""
    return classes.get(subject, subject.replace("_", " "))


def subject_photos(subjects_root: Path, subject: str) -> list[Path]:
    """Return the subject's photos sorted by name (DreamBooth names them 00.jpg, 01.jpg, ...)."""
    folder = subjects_root / subject
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())


def photo_prompt(object_class: str) -> str:
    """Return the plain prompt `a photo of a <class>`, with `an` before a vowel and no article for plurals."""
    if re.search(r"[^s]s$", object_class):
        return f"a photo of {object_class}"
    article = "an" if object_class[:1].lower() in "aeiou" else "a"
    return f"a photo of {article} {object_class}"
