"""DreamEditBench subject replacement: same-class objects exchanged inside each subject's images.

The data root is one of
- the local layout `replacement_source/<subject>/foundN.jpg` (DreamEditBench's own folders),
- `hf:tianleliphoebe/DreamEditBench_SelfContained`, read through `datasets`,
- a folder containing that dataset saved with `save_to_disk`, or a copy of its hub repository.

Pairings (`--pairing`):
- `swap` (default): inside a subject, foundN images are taken two by two in file-number order
  (found0 with found1, found2 with found3, ...) and each couple is exchanged both ways. This is
  our reading of "images exchanged two by two": disjoint couples rather than every pair. A subject
  of n images then gives n edits, and each image is a source once and a reference once, as in
  DreamEditBench's own replacement task, where each source image is edited once. Couples follow
  file numbers because that needs no seed and anyone can rebuild them from the file names. With an
  odd count, the last three images rotate (see `pairing.swap_pairs`), so no image is left out.
- `all`: every ordered pair of distinct images in a subject, n * (n - 1) edits.
- `subject`: each source image edited toward a photo of the DreamBooth subject itself, the k-th
  source toward photo k modulo the number of photos (from `--subjects`, or from the dataset's
  `subject_images_*` columns on the Hugging Face path).

Pair ids are `<subject>-<source stem>-<reference stem>` (`dog3-found0-found1`), the same on both
paths for `swap` and `all`. DreamEditBench ships no replacement masks, so masks come from the
segmenter.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from egobench.benches import register_bench
from egobench.benches.base import Bench, EditPair, safe_id
from egobench.benches.dreambooth import photo_prompt, read_classes, subject_class, subject_photos
from egobench.benches.dreamedit_hf import HUB_ID, HUB_PREFIX, DreamEditHubDataset, is_hub_dataset_folder
from egobench.benches.images import read_image_file
from egobench.benches.masks import Segmenter
from egobench.benches.pairing import PAIRINGS_WITHIN_GROUP, pairs_within_group
from egobench.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

PAIRINGS = (*PAIRINGS_WITHIN_GROUP, "subject")

_FOUND = re.compile(r"^found(\d+)\.(jpe?g|png|webp)$", re.IGNORECASE)


@dataclass(frozen=True)
class SourceImage:
    """One `foundN` image of a subject: its name, where to read it and the dataset's prompts if any."""

    stem: str
    key: str
    prompt: str | None = None


@register_bench("dreamedit")
class DreamEditBench(Bench):
    """DreamEditBench subject replacement (local folders or the Hugging Face dataset)."""

    groups_label = "subjects"

    def __init__(
        self,
        *,
        data_root: str | Path | None = None,
        subjects: str | Path | None = None,
        pairing: str = "swap",
        seed: int = 0,
        segmenter: Segmenter | str = "grabcut",
    ):
        super().__init__(segmenter)
        if data_root is None:
            raise ConfigError(
                f"dreamedit needs --data-root: the folder with replacement_source/ or {HUB_PREFIX}{HUB_ID}"
            )
        if pairing not in PAIRINGS:
            raise ConfigError(f"unknown --pairing {pairing!r} for dreamedit; choose one of: {', '.join(PAIRINGS)}")
        # The pairings are fixed by file names; `seed` is accepted so that a run's seed can be passed to any benchmark.
        del seed

        self.pairing = pairing
        self.data_root = str(data_root)
        self.subjects_root = Path(os.path.abspath(subjects)) if subjects is not None else None
        if self.subjects_root is not None and not self.subjects_root.is_dir():
            raise InputError(f"{self.subjects_root}: folder not found; --subjects must be the DreamBooth dataset folder")
        if pairing == "subject" and self.subjects_root is None and not self._is_hub_location():
            raise ConfigError("--pairing subject needs --subjects, the DreamBooth folder with <subject>/NN.jpg photos")

        self.hub: DreamEditHubDataset | None = None
        self._hub_rows = {}
        if self._is_hub_location():
            self.hub = DreamEditHubDataset(self.data_root)
            self._hub_rows = {row.index: row for row in self.hub.rows}
        elif not (Path(self.data_root) / "replacement_source").is_dir():
            raise InputError(
                f"{self.data_root}: neither replacement_source/<subject>/foundN.jpg nor a saved dataset found; "
                f"pass the DreamEditBench folder, a folder saved with save_to_disk, or {HUB_PREFIX}{HUB_ID}"
            )

        self.classes = read_classes(self.subjects_root)
        self.notes: list[str] = []
        self._pairs: list[EditPair] | None = None

    def pairs(self) -> list[EditPair]:
        if self._pairs is None:
            self._pairs = self._build_pairs()
        return list(self._pairs)

    def read_image(self, key: str) -> tuple[Image.Image, bytes]:
        if key.startswith(HUB_PREFIX):
            return self.hub.read(key)
        return read_image_file(key)

    def summary(self, pairs: list[EditPair]) -> list[str]:
        return [*super().summary(pairs), f"pairing: {self.pairing}", *self.notes]

    def _is_hub_location(self) -> bool:
        if self.data_root.startswith(HUB_PREFIX):
            return True
        folder = Path(self.data_root)
        return folder.is_dir() and not (folder / "replacement_source").is_dir() and is_hub_dataset_folder(folder)

    def _build_pairs(self) -> list[EditPair]:
        self.notes = []
        groups = self._hub_groups() if self.hub is not None else self._local_groups()

        pairs = []
        odd_subjects, single_subjects, subjects_without_photos = [], [], []
        for subject, sources in groups.items():
            object_class = subject_class(self.classes, subject)
            default_prompt = photo_prompt(object_class)

            if self.pairing == "subject":
                photos = self._subject_photo_keys(subject, sources)
                if not photos:
                    subjects_without_photos.append(subject)
                    continue
                plan = [(source, photos[index % len(photos)]) for index, source in enumerate(sources)]
            else:
                if len(sources) == 1:
                    single_subjects.append(subject)
                elif len(sources) % 2 and self.pairing == "swap":
                    odd_subjects.append(subject)
                plan = [
                    (sources[s], (sources[r].stem, sources[r].key))
                    for s, r in pairs_within_group(self.pairing, len(sources))
                ]

            for source, (reference_stem, reference_key) in plan:
                prompt = source.prompt or default_prompt
                # The reference is another object of the same class, so the target prompt keeps the source's.
                pairs.append(
                    EditPair(
                        pair_id=safe_id(f"{subject}-{source.stem}-{reference_stem}"),
                        source_image=source.key,
                        reference_image=reference_key,
                        source_class=object_class,
                        reference_class=object_class,
                        source_prompt=prompt,
                        reference_prompt=self._reference_prompt(sources, reference_stem, default_prompt),
                        target_prompt=prompt,
                        group=subject,
                    )
                )

        self._note(
            odd_subjects,
            "odd number of images, so the last three rotate (n-3→n-2→n-1→n-3); leaving each odd image out "
            f"instead would give {len(pairs) - len(odd_subjects)} pairs",
        )
        self._note(single_subjects, "only one image, so no pair")
        self._note(subjects_without_photos, "no subject photos, so no pair")
        _check_unique_ids(pairs, self.data_root)
        return pairs

    def _note(self, subjects: list[str], text: str) -> None:
        if subjects:
            line = f"{', '.join(subjects)}: {text}"
            self.notes.append(line)
            logger.debug(line)

    def _reference_prompt(self, sources: list[SourceImage], stem: str, default_prompt: str) -> str:
        for source in sources:
            if source.stem == stem and source.prompt:
                return source.prompt
        return default_prompt

    def _local_groups(self) -> dict[str, list[SourceImage]]:
        groups = {}
        source_root = Path(os.path.abspath(self.data_root)) / "replacement_source"
        for folder in sorted(path for path in source_root.iterdir() if path.is_dir()):
            numbered = []
            for path in folder.iterdir():
                match = _FOUND.match(path.name)
                if match and path.is_file():
                    numbered.append((int(match.group(1)), path))
                else:
                    logger.debug("skipping %s: not a foundN image", path)
            numbered.sort()
            numbers = [number for number, _ in numbered]
            if len(set(numbers)) != len(numbers):
                raise InputError(f"{folder}: two files share one foundN number; keep one image per number")
            if not numbered:
                logger.warning("%s: no foundN images, so the subject has no pair", folder)
                continue
            groups[folder.name] = [SourceImage(stem=f"found{number}", key=str(path)) for number, path in numbered]
        return groups

    def _hub_groups(self) -> dict[str, list[SourceImage]]:
        groups = {}
        for subject, rows in self.hub.rows_by_subject().items():
            groups[subject] = [
                SourceImage(stem=row.stem, key=f"{HUB_PREFIX}{row.index}/source_images", prompt=row.source_prompt or None)
                for row in rows
            ]
        return groups

    def _subject_photo_keys(self, subject: str, sources: list[SourceImage]) -> list[tuple[str, str]]:
        if self.subjects_root is not None:
            return [(path.stem, str(path)) for path in subject_photos(self.subjects_root, subject)]
        # On the Hugging Face path without --subjects, the photos stored in the subject's first row are used.
        first_index = int(sources[0].key.removeprefix(HUB_PREFIX).partition("/")[0])
        return self.hub.photo_keys(self._hub_rows[first_index])


def _check_unique_ids(pairs: list[EditPair], where: str) -> None:
    seen = set()
    for pair in pairs:
        if pair.pair_id in seen:
            raise InputError(f"{where}: two pairs share the id {pair.pair_id!r}; rename one of the subject folders")
        seen.add(pair.pair_id)
