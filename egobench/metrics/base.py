"""The interface every metric implements, and the inputs of one scored pair."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Sequence

import numpy as np
from PIL import Image


@dataclass
class PairImages:
    """The images, masks and prompt of one pair, read from a run folder.

    Masks are boolean (height, width) arrays, True on the object. A field that could not be read
    is None, and `missing` maps its name to the reason. `reference_digest` is the SHA-256 of the
    reference file's bytes, so pairs that share a reference share its embeddings.
    """

    pair_id: str
    edited: Image.Image | None = None
    source: Image.Image | None = None
    source_mask: np.ndarray | None = None
    reference: Image.Image | None = None
    reference_mask: np.ndarray | None = None
    target_prompt: str | None = None
    reference_digest: str | None = None
    missing: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Missing:
    """A metric value that could not be computed for one pair, with the reason written to metrics.csv."""

    reason: str


MetricValue = float | Missing


class Metric(ABC):
    """One column of metrics.csv, computed for a batch of pairs at a time.

    Subclasses are registered with `@register_metric` and name the `PairImages` fields they
    read in `inputs`. A pair that lacks one of them gets `Missing` without reaching `compute`.
    """

    name: ClassVar[str] = ""
    inputs: ClassVar[tuple[str, ...]] = ()
    # Whether a larger value means a better edit, for reports and regression checks.
    higher_is_better: ClassVar[bool] = True

    def __call__(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        """Score every pair, in order; pairs without the inputs this metric reads get `Missing`."""
        values: list[MetricValue | None] = [None] * len(pairs)
        ready: list[int] = []
        for index, pair in enumerate(pairs):
            absent = [name for name in self.inputs if getattr(pair, name) is None]
            if absent:
                values[index] = Missing(pair.missing.get(absent[0], f"{absent[0]} not available"))
            else:
                ready.append(index)

        if ready:
            computed = self.compute([pairs[index] for index in ready])
            for index, value in zip(ready, computed, strict=True):
                values[index] = value
        return values  # type: ignore[return-value]

    @abstractmethod
    def compute(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        """Return one value per pair; every field named in `inputs` is present."""

    def describe(self) -> str | None:
        """Return the encoder label for the metrics.csv encoder column, or None for encoder-free metrics."""
        return None
