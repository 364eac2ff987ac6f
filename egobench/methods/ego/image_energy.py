"""Image energy guidance (IEG): point-to-point matching of DIFT-style UNet features inside the masks.

For every reference point p_r inside the reference mask, Eq. 1 picks the edited point inside the
source mask with the nearest feature,

    p_o = argmin_{p in M_ori} d(F_ref[p_r], F_opt[p]),

and the energy is the summed squared distance of the matched features,

    D_img = sum_{p_r in M_ref} || F_opt[p_o] - F_ref[p_r] ||^2.

Features are the output of one UNet up-block for the noised latents at the iteration's timestep.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, ContextManager

import torch
from diffusers import UNet2DConditionModel

from egobench.methods.ego.spatial import downsample_mask
from egobench.models.unet_features import UNetState, unet_prefix, unet_suffix
from egobench.profiling.stages import stage

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
    """Per-pair energies (P,), their gradient with respect to the clean latents (or None), and the matches.

    `prediction` is eps(x~_t, prompt), finished from the feature forward's prefix, when requested.
    """

    losses: torch.Tensor
    gradient: torch.Tensor | None
    pair_matches: list[Matches]
    prediction: torch.Tensor | None = None

    @property
    def loss(self) -> torch.Tensor:
        """D_img summed over the pairs."""
        return self.losses.sum()

    @property
    def matches(self) -> Matches:
        """The matches of a single pair."""
        if len(self.pair_matches) != 1:
            raise ValueError(f"this energy contains {len(self.pair_matches)} pairs; read pair_matches instead of matches")
        return self.pair_matches[0]


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
    features, _ = _features_and_state(unet, noisy, timestep, prompt, up_block, added_cond_kwargs)
    return features


def _features_and_state(unet, noisy, timestep, prompt, up_block, added_cond_kwargs) -> tuple[torch.Tensor, UNetState]:
    timesteps = torch.full((noisy.shape[0],), timestep, device=noisy.device, dtype=torch.long)
    features, state = unet_prefix(unet, noisy.to(unet.dtype), timesteps, prompt.expand(noisy.shape[0], -1, -1), up_block, added_cond_kwargs)
    return features.float(), state


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
    finish_prediction: bool = False,
    forward_context: Callable[[], ContextManager] = contextlib.nullcontext,
) -> ImageEnergy:
    """Match features of the edited and reference latents (Eq. 1) and return D_img and its gradient.

    Every tensor argument has P pairs in its first dimension (P = 1 for a single pair). Pairs do not
    interact, so each pair's gradient is the gradient of its own energy.

    Args:
        latent: the clean edited latents x~_0, (P, 4, h, w). They are noised here with `noise`, so
            the gradient is taken with respect to x~_0.
        reference_noisy: the reference latents noised with the same `noise`, (P, 4, h, w).
        prompt: prompt embeddings, (P, 77, D) or (1, 77, D) for all pairs.
        source_mask, reference_mask: {0, 1} masks at image resolution, (P, 1, H, W).
        with_gradient: False computes only the matches (content composition without IEG).
        reference_features: precomputed features of `reference_noisy`, if the caller has them.
        added_cond_kwargs: IP-Adapter image tokens with P rows, used by both feature passes.
        finish_prediction: also return eps(x~_t, prompt), finished from the feature forward's
            prefix state under no_grad, which saves the prefix of that prediction.
        forward_context: entered around each UNet forward (autocast, for example) but not around
            the backward.
    """
    if reference_features is None:
        with stage("reference_features"), torch.no_grad(), forward_context():
            reference_features = unet_features(unet, reference_noisy, timestep, prompt, up_block, added_cond_kwargs)

    latent = latent.detach().requires_grad_(with_gradient)
    with torch.set_grad_enabled(with_gradient):
        with stage("feature_forward"), forward_context():
            edited_noisy = alpha_bar.sqrt() * latent + (1 - alpha_bar).sqrt() * noise
            edited_features, state = _features_and_state(unet, edited_noisy, timestep, prompt, up_block, added_cond_kwargs)

        prediction = None
        if finish_prediction:
            with stage("prediction_suffix"), torch.no_grad(), forward_context():
                prediction = unet_suffix(unet, state.detached()).float()

        with stage("matching"):
            losses, pair_matches = [], []
            for index in range(latent.shape[0]):
                loss, matches = _match_pair(
                    edited_features[index], reference_features[index], source_mask[index : index + 1], reference_mask[index : index + 1], distance
                )
                losses.append(loss)
                pair_matches.append(matches)
            losses = torch.stack(losses)

    with stage("backward"):
        gradient = torch.autograd.grad(losses.sum(), latent)[0] if with_gradient else None
    return ImageEnergy(losses.detach(), gradient, pair_matches, prediction)


def _match_pair(
    edited_features: torch.Tensor, reference_features: torch.Tensor, source_mask: torch.Tensor, reference_mask: torch.Tensor, distance: str
) -> tuple[torch.Tensor, Matches]:
    """Return one pair's D_img and its matches from (C, h_f, w_f) feature maps and (1, 1, H, W) masks."""
    grid = tuple(edited_features.shape[-2:])
    source_cells = downsample_mask(source_mask, grid).flatten().nonzero().squeeze(1)
    reference_cells = downsample_mask(reference_mask, grid).flatten().nonzero().squeeze(1)
    edited_points = edited_features.flatten(1).T
    reference_points = reference_features.flatten(1).T[reference_cells]

    nearest, distances = nearest_points(reference_points, edited_points[source_cells].detach(), distance)
    matched_source_cells = source_cells[nearest]
    loss = (edited_points[matched_source_cells] - reference_points).pow(2).sum()
    return loss, Matches(reference_cells, matched_source_cells, distances.detach(), grid)
