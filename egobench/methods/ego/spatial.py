"""Masks at latent and feature resolution, and the map from feature cells to latent positions.

UNet feature maps are coarser than the latent: SD 1.5's up-block 1 is 32x32 for a 64x64 latent.
A feature cell (i, j) is the `factor` x `factor` block of latent positions starting at
(i * factor, j * factor).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def downsample_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (1, 1, H, W) {0, 1} mask to `size` by area coverage.

    A cell is inside when at least half of its pixels are. If that leaves nothing (an object smaller
    than one cell), any covered cell counts, so a small object still gets a cell.
    """
    coverage = F.interpolate(mask.float(), size=size, mode="area")
    binary = coverage >= 0.5
    if not binary.any():
        binary = coverage > 0
    return binary


def cell_to_latent_factor(feature_size: tuple[int, int], latent_size: tuple[int, int]) -> int:
    """Return how many latent positions one feature cell spans per side."""
    factor_h, remainder_h = divmod(latent_size[0], feature_size[0])
    factor_w, remainder_w = divmod(latent_size[1], feature_size[1])
    if remainder_h or remainder_w or factor_h != factor_w:
        raise ValueError(f"feature map {feature_size} does not tile the latent {latent_size} evenly")
    return factor_h


def gaussian_blur(tensor: torch.Tensor, sigma: float) -> torch.Tensor:
    """Blur each channel of (B, C, h, w) with a Gaussian of `sigma` latent cells (reflect padding)."""
    if sigma <= 0:
        return tensor
    radius = max(1, int(round(3 * sigma)))
    radius = min(radius, tensor.shape[-1] - 1, tensor.shape[-2] - 1)
    offsets = torch.arange(-radius, radius + 1, device=tensor.device, dtype=tensor.dtype)
    kernel = torch.exp(-(offsets**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    channels = tensor.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    padded = F.pad(tensor, (radius, radius, 0, 0), mode="reflect")
    tensor = F.conv2d(padded, horizontal, groups=channels)
    padded = F.pad(tensor, (0, 0, radius, radius), mode="reflect")
    return F.conv2d(padded, vertical, groups=channels)
