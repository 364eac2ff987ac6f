"""DreamEditBench subject replacement: sources in `replacement_source/<subject>/foundN.jpg`.

References are DreamBooth subject photos from `--subjects` (`<subject>/NN.jpg`, with `classes.csv`).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from egobench.benches import register_bench
from egobench.benches.base import Bench, EditPair, LoadedPair
from egobench.benches.images import mask_to_square, open_rgb, resize_center_crop
from egobench.benches.masks import GrabCutSegmenter, Segmenter, check_mask, read_mask
from egobench.errors import InputError

_FOUND = re.compile(r"^found(\d+)\.(jpe?g|png)$", re.IGNORECASE)
_IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png"}


@register_bench("dreamedit")
class DreamEditBench(Bench):
    """Sources from a DreamEditBench `replacement_source` folder, each edited toward its subject's photo."""

    def __init__(self, data_root: str | Path, subjects: str | Path, segmenter: Segmenter | None = None, **_):
        self.data_root = Path(data_root)
        self.subjects_root = Path(subjects)
        self.segmenter = segmenter or GrabCutSegmenter()
        source_root = self.data_root / "replacement_source"
        if not source_root.is_dir():
            raise InputError(
                f"{source_root}: folder not found; --data-root must contain replacement_source/<subject>/foundN.jpg"
            )
        if not self.subjects_root.is_dir():
            raise InputError(f"{self.subjects_root}: folder not found; --subjects must be the DreamBooth dataset folder")
        self.classes = _read_classes(self.subjects_root / "classes.csv")

    def pairs(self) -> list[EditPair]:
        pairs = []
        for subject_dir in sorted(p for p in (self.data_root / "replacement_source").iterdir() if p.is_dir()):
            subject = subject_dir.name
            subject_class = self.classes.get(subject, subject.replace("_", " "))
            references = _subject_photos(self.subjects_root / subject)
            if not references:
                continue
            sources = sorted(
                (p for p in subject_dir.iterdir() if _FOUND.match(p.name)),
                key=lambda p: int(_FOUND.match(p.name).group(1)),
            )
            for index, source in enumerate(sources):
                reference = references[index % len(references)]
                pairs.append(
                    EditPair(
                        pair_id=f"{subject}-{source.stem}-{reference.stem}",
                        source_image=str(source),
                        reference_image=str(reference),
                        source_class=subject_class,
                        reference_class=subject_class,
                        source_prompt=f"a photo of a {subject_class}",
                        reference_prompt=f"a photo of a {subject_class}",
                        target_prompt=f"a photo of a {subject_class}",
                    )
                )
        return pairs

    def load(self, pair: EditPair, resolution: int, cache_dir: Path | None = None) -> LoadedPair:
        source = resize_center_crop(open_rgb(pair.source_image), resolution)
        reference = resize_center_crop(open_rgb(pair.reference_image), resolution)
        source_mask = self._mask(pair.source_mask, source, resolution)
        reference_mask = self._mask(pair.reference_mask, reference, resolution)
        check_mask(source_mask, f"pair {pair.pair_id} source mask")
        check_mask(reference_mask, f"pair {pair.pair_id} reference mask")
        return LoadedPair(pair, source, source_mask, reference, reference_mask)

    def _mask(self, mask_path: str | None, square_image, resolution: int):
        if mask_path is not None:
            return mask_to_square(read_mask(mask_path), resolution)
        return self.segmenter(square_image)


def _read_classes(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["subject_name"]: row["class"] for row in csv.DictReader(handle)}


def _subject_photos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES)
