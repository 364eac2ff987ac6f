"""Latent content composition (CC): copy matched reference latents onto the edited latent.

For each matched pair (p_o, p_r) of Eq. 1, x~_0[p_o] <- x^ref_0[p_r]. Matches live on the feature
grid, where each feature cell is a square block of latent positions. The block is copied position
by position, only where the source mask covers the latent.
"""

from __future__ import annotations

import torch

from egobench.methods.ego.image_energy import Matches
from egobench.methods.ego.spatial import cell_to_latent_factor


def unique_matches(matches: Matches) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (source_cells, reference_cells) with one reference cell per source cell.

    Several reference points can pick the same edited point; the closest one is copied, so the
    result does not depend on write order.
    """
    order = torch.argsort(matches.distances, stable=True)
    source = matches.source_cells[order]
    reference = matches.reference_cells[order]
    # A stable sort by source cell keeps, within each source cell, the closest match first.
    by_source = torch.argsort(source, stable=True)
    source, reference = source[by_source], reference[by_source]
    first = torch.ones_like(source, dtype=torch.bool)
    first[1:] = source[1:] != source[:-1]
    return source[first], reference[first]


def content_composition(latent: torch.Tensor, reference_latent: torch.Tensor, matches: Matches, latent_mask: torch.Tensor) -> torch.Tensor:
    """Return a copy of `latent` (1, C, h, w) with matched reference latent blocks pasted in.

    `latent_mask` (1, 1, h, w) limits the copy to the source object region.
    """
    height, width = latent.shape[-2:]
    factor = cell_to_latent_factor(matches.grid, (height, width))
    grid_width = matches.grid[1]
    source_cells, reference_cells = unique_matches(matches)

    composed = latent.clone().flatten(2)
    reference = reference_latent.flatten(2)
    inside = latent_mask.flatten().bool()
    for dy in range(factor):
        for dx in range(factor):
            source_positions = (source_cells // grid_width * factor + dy) * width + (source_cells % grid_width * factor + dx)
            reference_positions = (reference_cells // grid_width * factor + dy) * width + (reference_cells % grid_width * factor + dx)
            keep = inside[source_positions]
            composed[:, :, source_positions[keep]] = reference[:, :, reference_positions[keep]]
    return composed.view_as(latent)
