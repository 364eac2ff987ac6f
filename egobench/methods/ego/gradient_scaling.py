"""Gradient scaling (GS): keep edits in the object region and blend them into the background."""

from __future__ import annotations

import torch

from egobench.methods.ego.spatial import gaussian_blur


def background_gradient_truncation(gradient: torch.Tensor, latent_mask: torch.Tensor) -> torch.Tensor:
    """Zero the text-energy gradient outside the source mask: grad * M_ori."""
    return gradient * latent_mask.to(gradient.dtype)


def background_gradient_smoothing(gradient: torch.Tensor, latent_mask: torch.Tensor, sigma: float) -> torch.Tensor:
    """Keep the image-energy gradient inside the mask and blur it outside.

    grad * M_ori + (grad * k_s) * (1 - M_ori), with k_s a Gaussian of `sigma` latent cells.
    """
    mask = latent_mask.to(gradient.dtype)
    return gradient * mask + gaussian_blur(gradient, sigma) * (1 - mask)
