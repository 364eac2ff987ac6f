"""Image energy guidance (IEG): point-to-point matching of DIFT-style UNet features inside the masks.

For every reference point p_r inside the reference mask, Eq. 1 picks the edited point inside the
source mask with the nearest feature,

    p_o = argmin_{p in M_ori} d(F_ref[p_r], F_opt[p]),

and the energy is the summed squared distance of the matched features,

    D_img = sum_{p_r in M_ref} || F_opt[p_o] - F_ref[p_r] ||^2.

Features are the output of one UNet up-block for the noised latents at the iteration's timestep.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel

from egobench.methods.ego.spatial import downsample_mask
from egobench.models.unet_features import unet_prefix

DISTANCES = ("euclidean", "cosine")


@dataclass
class Matches:
    """Eq. 1 on a feature grid of `grid` = (h_f, w_f): flat cell indices and feature distances."""

    reference_cells: torch.Tensor
    source_cells: torch.Tensor
    distances: torch.Tensor
    grid: tuple[int, int]


@dataclass
class ImageEnergy:
    """The energy value, its gradient with respect to the clean latent (or None), and the matches."""

    loss: torch.Tensor
    gradient: torch.Tensor | None
    matches: Matches


def nearest_points(reference: torch.Tensor, candidates: torch.Tensor, distance: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Eq. 1: for each reference feature (n_r, C), the index of the nearest candidate (n_o, C).

    Returns (indices (n_r,), distances (n_r,)). Ties go to the lowest candidate index.
    """
    if distance == "euclidean":
        table = torch.cdist(reference.unsqueeze(0), candidates.unsqueeze(0)).squeeze(0)
    elif distance == "cosine":
        reference = torch.nn.functional.normalize(reference, dim=1)
        candidates = torch.nn.functional.normalize(candidates, dim=1)
        table = 1 - reference @ candidates.T
    else:
        raise ValueError(f"unknown distance {distance!r}; use one of {', '.join(DISTANCES)}")
    best, indices = table.min(dim=1)
    return indices, best


def unet_features(
    unet: UNet2DConditionModel, noisy: torch.Tensor, timestep: int, prompt: torch.Tensor, up_block: int, added_cond_kwargs: dict | None = None
) -> torch.Tensor:
    """Return the up-block output (B, C, h_f, w_f) for noised latents, stopping the UNet there."""
    timesteps = torch.full((noisy.shape[0],), timestep, device=noisy.device, dtype=torch.long)
    features, _ = unet_prefix(unet, noisy.to(unet.dtype), timesteps, prompt.expand(noisy.shape[0], -1, -1), up_block, added_cond_kwargs)
    return features.float()


def image_energy(
    unet: UNet2DConditionModel,
    latent: torch.Tensor,
    reference_noisy: torch.Tensor,
    noise: torch.Tensor,
    alpha_bar: torch.Tensor,
    timestep: int,
    prompt: torch.Tensor,
    source_mask: torch.Tensor,
    reference_mask: torch.Tensor,
    up_block: int,
    distance: str,
    with_gradient: bool,
    reference_features: torch.Tensor | None = None,
    added_cond_kwargs: dict | None = None,
) -> ImageEnergy:
    """Match features of the edited and reference latents (Eq. 1) and return D_img and its gradient.

    Args:
        latent: the clean edited latent x~_0, (1, 4, h, w); it is noised here with `noise` so that
            the gradient is taken with respect to x~_0.
        reference_noisy: the reference latent noised with the same `noise`, (1, 4, h, w).
        source_mask, reference_mask: {0, 1} masks at image resolution, (1, 1, H, W).
        with_gradient: False computes only the matches (content composition without IEG).
        reference_features: precomputed features of `reference_noisy`, if the caller has them.
        added_cond_kwargs: IP-Adapter image tokens for a batch of one, used by both feature passes.
    """
    if reference_features is None:
        with torch.no_grad():
            reference_features = unet_features(unet, reference_noisy, timestep, prompt, up_block, added_cond_kwargs)

    latent = latent.detach().requires_grad_(with_gradient)
    with torch.set_grad_enabled(with_gradient):
        edited_noisy = alpha_bar.sqrt() * latent + (1 - alpha_bar).sqrt() * noise
        edited_features = unet_features(unet, edited_noisy, timestep, prompt, up_block, added_cond_kwargs)

        grid = tuple(edited_features.shape[-2:])
        source_cells = downsample_mask(source_mask, grid).flatten().nonzero().squeeze(1)
        reference_cells = downsample_mask(reference_mask, grid).flatten().nonzero().squeeze(1)
        edited_points = edited_features[0].flatten(1).T
        reference_points = reference_features[0].flatten(1).T[reference_cells]

        nearest, distances = nearest_points(reference_points, edited_points[source_cells].detach(), distance)
        matched_source_cells = source_cells[nearest]
        loss = (edited_points[matched_source_cells] - reference_points).pow(2).sum()

    gradient = torch.autograd.grad(loss, latent)[0] if with_gradient else None
    matches = Matches(reference_cells, matched_source_cells, distances.detach(), grid)
    return ImageEnergy(loss.detach(), gradient, matches)
