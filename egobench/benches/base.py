"""Edit pairs and the benchmark interface that turns files into them."""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from egobench.benches.images import fit_mask_to_image, mask_to_square, resize_center_crop
from egobench.benches.mask_cache import MaskCache
from egobench.benches.masks import Box, Segmenter, check_mask, create_segmenter, read_mask

logger = logging.getLogger(__name__)

_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")


def safe_id(text: str) -> str:
    """Replace characters that are unsafe in a folder name (pair ids name `pairs/<pair_id>/`) by `_`."""
    return _UNSAFE_ID_CHARACTERS.sub("_", text)


@dataclass(frozen=True)
class EditPair:
    """One edit: put the reference object in place of the source object.

    Image and mask fields are absolute paths, or keys such as `hf:12/source_images` or
    `pie:000000000012` that the benchmark which made the pair resolves itself. A `None` mask means
    that the benchmark computes one with its segmenter, seeded by the box (left, top, right, bottom
    in pixels of the original image) when one is given.
    """

    pair_id: str
    source_image: str
    reference_image: str
    source_class: str
    reference_class: str
    source_prompt: str
    reference_prompt: str
    target_prompt: str
    source_mask: str | None = None
    reference_mask: str | None = None
    group: str = ""
    source_box: Box | None = None
    reference_box: Box | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_row(self) -> dict:
        """Flatten the pair for a CSV row or a JSON record; boxes become `left,top,right,bottom`."""
        row = asdict(self)
        row.pop("extra")
        for key in ("source_box", "reference_box"):
            if row[key] is not None:
                row[key] = ",".join(str(value) for value in row[key])
        return row


@dataclass
class LoadedPair:
    """An edit pair with its images and masks loaded at the model's resolution.

    Images are RGB and `resolution` x `resolution`; masks are boolean arrays of shape
    (resolution, resolution), True on the object.
    """

    pair: EditPair
    source: Image.Image
    source_mask: np.ndarray
    reference: Image.Image
    reference_mask: np.ndarray


class Bench(ABC):
    """A benchmark: reads files under a data root and lists its edit pairs with stable ids.

    Subclasses call `super().__init__(segmenter)` and implement `pairs`, `read_image` and, when the
    data set ships masks, `read_given_mask`.
    `load` then applies one mask order to every benchmark: the data set's own mask, else a mask
    file, else the segmenter, whose masks are cached by image content and resolution.
    """

    name: str = ""
    # Plural noun for the groups of pairs in summaries (DreamEditBench subjects, PIE-Bench categories).
    groups_label: str = "groups"

    def __init__(self, segmenter: Segmenter | str = "grabcut"):
        self.segmenter = create_segmenter(segmenter) if isinstance(segmenter, str) else segmenter

    @abstractmethod
    def pairs(self) -> list[EditPair]:
        """Return every edit pair, in a fixed order that does not depend on the machine."""

    @abstractmethod
    def read_image(self, key: str) -> tuple[Image.Image, bytes]:
        """Return the RGB image stored under `key` at its original size, and the file's bytes."""

    def read_given_mask(self, key: str, size: tuple[int, int]) -> np.ndarray:
        """Return the data set's own boolean mask for a mask key, at `size` (width, height).

        The default reads `key` as a mask file; benchmarks with masks inside their annotation files
        override this for their own keys.
        """
        return fit_mask_to_image(read_mask(key), size)

    def load(self, pair: EditPair, resolution: int, cache_dir: Path | None = None) -> LoadedPair:
        """Load the pair's images and masks at `resolution`, caching computed masks in `cache_dir`."""
        cache = MaskCache(cache_dir) if cache_dir is not None else None
        source, source_mask = self._load_side(
            pair.source_image, pair.source_mask, pair.source_box, resolution, cache, f"pair {pair.pair_id} source"
        )
        reference, reference_mask = self._load_side(
            pair.reference_image,
            pair.reference_mask,
            pair.reference_box,
            resolution,
            cache,
            f"pair {pair.pair_id} reference",
        )
        return LoadedPair(pair, source, source_mask, reference, reference_mask)

    def summary(self, pairs: list[EditPair]) -> list[str]:
        """Describe a list of pairs in a few lines for `egobench bench show`."""
        groups = {pair.group for pair in pairs if pair.group}
        sources = {pair.source_image for pair in pairs}
        references = {pair.reference_image for pair in pairs}
        line = f"{len(pairs)} pairs"
        if groups:
            line += f" over {len(groups)} {self.groups_label}"
        line += f"; {len(sources)} distinct source images, {len(references)} distinct reference images"
        return [line]

    def _load_side(
        self, image_key: str, mask_key: str | None, box: Box | None, resolution: int, cache: MaskCache | None, label: str
    ) -> tuple[Image.Image, np.ndarray]:
        image, image_bytes = self.read_image(image_key)
        square = resize_center_crop(image, resolution)

        if mask_key is not None:
            mask = mask_to_square(self.read_given_mask(mask_key, image.size), resolution)
        else:
            mask = self._segment(image, image_bytes, box, resolution, cache)

        check_mask(mask, f"{label} mask")
        return square, mask

    def _segment(
        self, image: Image.Image, image_bytes: bytes, box: Box | None, resolution: int, cache: MaskCache | None
    ) -> np.ndarray:
        if cache is not None:
            key = cache.key(image_bytes, resolution, self.segmenter.signature(), box)
            cached = cache.get(key)
            if cached is not None:
                return cached

        # The segmenter receives the whole original image, so that a box given in its pixels stays
        # valid. Its mask then goes through the same crop and resize as the image.
        mask = mask_to_square(self.segmenter(image, box), resolution)

        if cache is not None:
            cache.put(key, mask)
        return mask
