"""The interface every editing method implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import torch
from PIL import Image

from egobench.benches.base import LoadedPair


class EditMethod(ABC):
    """An editing method: turns one loaded pair into an edited RGB image.

    Subclasses are registered with `@register_method("name")` and configured by the preset's section
    named after the method (for `ego`, the `ego:` mapping of `methods/ego.yaml`).
    """

    name: ClassVar[str] = ""
    # Python packages or files the method needs, shown by `egobench list methods`.
    requirements: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: dict, *, model: str | None = None, device: str | torch.device = "cpu"):
        self.config = config
        self.model = model
        self.device = torch.device(device)

    @property
    @abstractmethod
    def resolution(self) -> int:
        """Side length in pixels of the square images the method reads and writes."""

    @abstractmethod
    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        """Return the edited source image, RGB, `resolution` x `resolution`."""

    @classmethod
    def availability(cls, config: dict | None = None) -> tuple[bool, str]:
        """Return whether the method can run here with a preset's `config` and, if not, the step that makes it available."""
        return True, "ready"

    def identity(self) -> dict:
        """Return what the run manifest records about the method (model id, resolved settings)."""
        return {"method": self.name, "model": self.model, "config": self.config}
