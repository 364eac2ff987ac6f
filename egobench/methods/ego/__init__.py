"""EGO-Edit: energy-guided optimisation for personalized image editing."""

from egobench.methods.ego.pipeline import EgoEdit
from egobench.methods.ego.settings import EgoSettings

__all__ = ["EgoEdit", "EgoSettings"]
