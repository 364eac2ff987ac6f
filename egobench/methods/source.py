"""The `source` reference point: the unedited source image.

It bounds the metrics from both sides. Its subject-identity scores are those of an edit that never
inserted the reference object, and its background scores are those of perfect preservation.
"""

from __future__ import annotations

from PIL import Image

from egobench.benches.base import LoadedPair
from egobench.methods import register_method
from egobench.methods.base import EditMethod


@register_method("source")
class SourceMethod(EditMethod):
    """Return the source image unchanged; needs no weights."""

    @property
    def resolution(self) -> int:
        return int(self.config.get(self.name, {}).get("resolution", 512))

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        return pair.source.convert("RGB").copy()
