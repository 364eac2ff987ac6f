"""Edit pairs and the benchmark interface that turns files into them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class EditPair:
    """One edit: put the reference object in place of the source object.

    Image and mask fields are paths (absolute, or relative to the benchmark's data root) or, for
    benchmarks that read a Hugging Face dataset, a `hf:` key that the benchmark resolves itself.
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
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def to_row(self) -> dict:
        """Flatten the pair for a CSV row or a JSON record."""
        row = asdict(self)
        row.pop("extra")
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
    """A benchmark: reads files under a data root and lists its edit pairs with stable ids."""

    name: str = ""

    @abstractmethod
    def pairs(self) -> list[EditPair]:
        """Return every edit pair, in a fixed order that does not depend on the machine."""

    @abstractmethod
    def load(self, pair: EditPair, resolution: int, cache_dir: Path | None = None) -> LoadedPair:
        """Load the pair's images and masks at `resolution`, caching computed masks in `cache_dir`."""
