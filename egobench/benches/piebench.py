"""PIE-Bench cross-class swaps: 50 images of distinct object categories, paired at random.

The data root contains PIE-Bench's `mapping_file.json` and `annotation_images/`. Each entry of the
mapping file names an image (`image_path`, relative to `annotation_images/`), its prompts, its
editing type and `blended_word`: the source object word and the target word separated by a space.
Its `mask` is the run-length mask of the object (see `rle`).

The set is built in steps, all driven by `seed` through `random.Random.random`, whose sequence
Python keeps stable across versions:
1. Usable entries: `blended_word` names one source word, the editing type keeps the object in place
   and the decoded mask covers between 0.2% and 98% of the image.
2. The category of an entry is its source word in lower case. `count` categories are drawn.
3. In each drawn category, one entry is drawn.
4. References are a random derangement of the sources: every image is a source once and a
   reference once, never its own reference, and the categories differ by construction.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from egobench.benches import register_bench
from egobench.benches.base import Bench, EditPair, safe_id
from egobench.benches.dreambooth import photo_prompt
from egobench.benches.images import fit_mask_to_image, read_image_file
from egobench.benches.masks import MAX_MASK_FRACTION, MIN_MASK_FRACTION, Segmenter
from egobench.benches.paths import path_inside
from egobench.benches.rle import PIE_MASK_SHAPE, decode_rle, parse_rle
from egobench.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

MAPPING_FILE = "mapping_file.json"
IMAGES_FOLDER = "annotation_images"
MASK_PREFIX = "pie:"

# PIE-Bench editing types whose mask is not an object present in the source image:
# 2 adds an object (the mask is where it will go), 8 changes the background, 9 the style.
NON_OBJECT_EDIT_TYPES = {"2", "8", "9"}

_REQUIRED_FIELDS = ("image_path", "original_prompt")
_WORD = re.compile(r"^[a-z][a-z'-]*$")


@dataclass(frozen=True)
class PieEntry:
    """One annotated PIE-Bench image."""

    image_id: str
    image_path: str
    original_prompt: str
    editing_prompt: str
    editing_instruction: str
    editing_type_id: str
    source_word: str | None
    target_word: str | None
    runs: tuple[int, ...]
    mask_error: str | None = None


def read_mapping_file(path: Path) -> list[PieEntry]:
    """Read every entry of a PIE-Bench `mapping_file.json`, sorted by image id.

    Entries without `image_path` or `original_prompt` are reported together in one `InputError`.
    An entry whose mask cannot be parsed is kept with `mask_error` set, so that it is only
    unusable for selection instead of blocking the whole file.
    """
    if not path.is_file():
        raise InputError(f"{path}: file not found; --data-root must be the PIE-Bench folder with {MAPPING_FILE}")
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}); restore the file from PIE-Bench") from error
    if not isinstance(mapping, dict):
        raise InputError(f"{path}: expected an object keyed by image id, got {type(mapping).__name__}")

    entries, problems, quirk_counts = [], [], {}
    for image_id in sorted(mapping):
        record = mapping[image_id]
        if not isinstance(record, dict):
            problems.append(f"{image_id}: not an object")
            continue
        missing = [name for name in _REQUIRED_FIELDS if not str(record.get(name) or "").strip()]
        if missing:
            problems.append(f"{image_id}: missing {', '.join(missing)}")
            continue

        runs, mask_error = (), None
        try:
            parsed, quirks = parse_rle(record.get("mask"), f"{path} entry {image_id}")
            runs = tuple(parsed)
            for quirk in quirks:
                quirk_counts[quirk] = quirk_counts.get(quirk, 0) + 1
        except InputError as error:
            mask_error = str(error)

        source_word, target_word = parse_blended_word(record.get("blended_word"))
        entries.append(
            PieEntry(
                image_id=str(image_id),
                image_path=str(record["image_path"]).strip(),
                original_prompt=_clean_prompt(record["original_prompt"]),
                editing_prompt=str(record.get("editing_prompt") or ""),
                editing_instruction=str(record.get("editing_instruction") or ""),
                editing_type_id=str(record.get("editing_type_id", "")).strip(),
                source_word=source_word,
                target_word=target_word,
                runs=runs,
                mask_error=mask_error,
            )
        )

    if problems:
        raise InputError(f"{path}: {len(problems)} invalid entries: {'; '.join(problems)}; fix or remove them")
    for quirk, count in sorted(quirk_counts.items()):
        logger.info("%s: %d masks %s (handled)", path.name, count, quirk)
    return entries


def parse_blended_word(value) -> tuple[str | None, str | None]:
    """Split `blended_word` into (source word, target word); (None, None) when it names no word.

    A single word is a source word without a target. A phrase repeated twice (`teddy bear teddy
    bear`) is one multi-word source; other lists of three or more words are ambiguous and unusable.
    """
    words = str(value or "").split()
    if not words:
        return None, None
    if len(words) == 1:
        return words[0], None
    if len(words) == 2:
        return words[0], words[1]
    half = len(words) // 2
    if len(words) % 2 == 0 and words[:half] == words[half:]:
        phrase = " ".join(words[:half])
        return phrase, phrase
    return None, None


def category_of(entry: PieEntry) -> str | None:
    """Return the entry's object category (its source word in lower case) or None when unusable as an object."""
    if entry.source_word is None or entry.editing_type_id in NON_OBJECT_EDIT_TYPES:
        return None
    word = entry.source_word.lower().strip(".,;:!?\"()[]")
    if not all(_WORD.match(part) for part in word.split()):
        return None
    return word


def mask_fraction(entry: PieEntry) -> float:
    """Return the share of the 512 x 512 image that the entry's mask covers."""
    return float(decode_rle(list(entry.runs), PIE_MASK_SHAPE).mean())


def select_cross_class_pairs(entries: list[PieEntry], count: int, seed: int) -> list[tuple[PieEntry, PieEntry]]:
    """Draw `count` entries of distinct categories and pair each with a reference of another category.

    Returns (source, reference) tuples sorted by source image id. Raise `InputError` when fewer
    than `count` categories are usable.
    """
    by_category: dict[str, list[PieEntry]] = {}
    for entry in entries:
        category = category_of(entry)
        if category is None or entry.mask_error is not None:
            continue
        if not MIN_MASK_FRACTION <= mask_fraction(entry) <= MAX_MASK_FRACTION:
            continue
        by_category.setdefault(category, []).append(entry)

    categories = sorted(by_category)
    if len(categories) < count:
        raise InputError(
            f"only {len(categories)} usable object categories in {MAPPING_FILE}, {count} needed; "
            "check its blended_word, editing_type_id and mask fields"
        )

    rng = random.Random(seed)
    drawn = _stable_shuffle(categories, rng)[:count]
    sources = [by_category[category][_stable_index(len(by_category[category]), rng)] for category in drawn]
    references = [sources[index] for index in _derangement(count, rng)]
    return sorted(zip(sources, references), key=lambda pair: pair[0].image_id)


def _stable_index(size: int, rng: random.Random) -> int:
    # `random.random()` is the one `Random` method whose sequence Python guarantees across versions
    # (Python docs, random module, "Notes on Reproducibility"). `randrange`, `shuffle` and `sample`
    # may change, so every draw goes through `random()`.
    return min(int(rng.random() * size), size - 1)


def _stable_shuffle(items: list, rng: random.Random) -> list:
    shuffled = list(items)
    for last in range(len(shuffled) - 1, 0, -1):
        other = _stable_index(last + 1, rng)
        shuffled[last], shuffled[other] = shuffled[other], shuffled[last]
    return shuffled


def _derangement(size: int, rng: random.Random) -> list[int]:
    # Rejection sampling gives a uniformly random derangement; about e = 2.7 shuffles are needed on average.
    if size < 2:
        raise InputError(f"a cross-class set needs at least 2 images, got {size}")
    while True:
        order = _stable_shuffle(list(range(size)), rng)
        if all(index != target for index, target in enumerate(order)):
            return order


def target_prompt(entry: PieEntry, reference_word: str) -> str:
    """Replace the source word in the source prompt by the reference's word (first whole-word match)."""
    pattern = re.compile(rf"\b{re.escape(entry.source_word)}\b", re.IGNORECASE)
    if pattern.search(entry.original_prompt):
        return pattern.sub(reference_word, entry.original_prompt, count=1)
    return photo_prompt(reference_word)


@register_bench("piebench")
class PieBench(Bench):
    """PIE-Bench cross-class swaps: 50 images of distinct object categories, each edited toward another's object."""

    groups_label = "categories"

    def __init__(
        self,
        *,
        data_root: str | Path | None = None,
        seed: int = 0,
        count: int = 50,
        segmenter: Segmenter | str = "grabcut",
    ):
        super().__init__(segmenter)
        if data_root is None:
            raise ConfigError(f"piebench needs --data-root: the PIE-Bench folder with {MAPPING_FILE}")
        self.data_root = Path(os.path.abspath(data_root))
        self.images_root = self.data_root / IMAGES_FOLDER
        if not self.images_root.is_dir():
            raise InputError(f"{self.images_root}: folder not found; --data-root must be the PIE-Bench folder")
        self.seed = int(seed)
        self.count = int(count)
        self.entries = {entry.image_id: entry for entry in read_mapping_file(self.data_root / MAPPING_FILE)}
        self._pairs: list[EditPair] | None = None

    def pairs(self) -> list[EditPair]:
        if self._pairs is None:
            self._pairs = self._build_pairs()
        return list(self._pairs)

    def read_image(self, key: str) -> tuple[Image.Image, bytes]:
        return read_image_file(key)

    def read_given_mask(self, key: str, size: tuple[int, int]) -> np.ndarray:
        if not key.startswith(MASK_PREFIX):
            return super().read_given_mask(key, size)
        entry = self.entries[key.removeprefix(MASK_PREFIX)]
        if entry.mask_error is not None:
            raise InputError(entry.mask_error)
        return fit_mask_to_image(decode_rle(list(entry.runs), PIE_MASK_SHAPE), size)

    def summary(self, pairs: list[EditPair]) -> list[str]:
        return [*super().summary(pairs), f"seed: {self.seed}"]

    def _build_pairs(self) -> list[EditPair]:
        selected = select_cross_class_pairs(list(self.entries.values()), self.count, self.seed)

        image_paths, missing = {}, []
        for source, _ in selected:
            path = path_inside(self.images_root, source.image_path, f"{MAPPING_FILE} entry {source.image_id}")
            if not path.is_file():
                missing.append(source.image_path)
            image_paths[source.image_id] = str(path)
        if missing:
            raise InputError(
                f"{self.images_root}: {len(missing)} selected images not found ({', '.join(missing)}); "
                "restore annotation_images/"
            )

        pairs = []
        for source, reference in selected:
            source_category, reference_category = category_of(source), category_of(reference)
            pairs.append(
                EditPair(
                    pair_id=safe_id(f"{source.image_id}-{reference.image_id}"),
                    source_image=image_paths[source.image_id],
                    reference_image=image_paths[reference.image_id],
                    source_class=source_category,
                    reference_class=reference_category,
                    source_prompt=source.original_prompt,
                    reference_prompt=reference.original_prompt,
                    target_prompt=target_prompt(source, reference.source_word),
                    source_mask=f"{MASK_PREFIX}{source.image_id}",
                    reference_mask=f"{MASK_PREFIX}{reference.image_id}",
                    group=source_category,
                    extra={"editing_type_id": source.editing_type_id},
                )
            )
        return pairs


def _clean_prompt(value) -> str:
    # PIE-Bench marks edited words with brackets in its prompts; the plain prompt has none.
    return " ".join(str(value).replace("[", "").replace("]", "").split())
