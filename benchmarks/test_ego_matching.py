"""Eq. 1 matching of DIFT-style features at 32x32 and 64x64, as SD 1.5 gives them at 512 px.

Up-block 1 of SD 1.5 gives 1280 channels at 32x32 for a 512 px image; up-block 2 gives 640
channels at 64x64. Masks cover about a sixth of the image, as the generated profiling pair does.
Run with `python -m pytest benchmarks/ --benchmark-only`.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from egobench.methods.ego.image_energy import _match_pair
from egobench.profiling.synthetic_pair import synthetic_pair

GRIDS = {"32x32x1280": (32, 1280), "64x64x640": (64, 640)}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def masks() -> tuple[torch.Tensor, torch.Tensor]:
    pair = synthetic_pair(512)
    source = torch.from_numpy(pair.source_mask.astype(np.float32))[None, None]
    reference = torch.from_numpy(pair.reference_mask.astype(np.float32))[None, None]
    return source, reference


@pytest.mark.parametrize("grid", list(GRIDS))
@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_matching(benchmark, grid, distance):
    """Nearest reference-to-edited matches and D_img, without the backward."""
    side, channels = GRIDS[grid]
    generator = torch.Generator().manual_seed(0)
    edited, reference = torch.randn(2, channels, side, side, generator=generator)
    source_mask, reference_mask = masks()

    loss, matches = benchmark(_match_pair, edited, reference, source_mask, reference_mask, distance)
    benchmark.extra_info["reference_points"] = int(matches.reference_cells.numel())
    assert torch.isfinite(loss)


@pytest.mark.parametrize("grid", list(GRIDS))
def test_matching_with_backward(benchmark, grid):
    """Matching plus the gradient of D_img with respect to the edited features."""
    side, channels = GRIDS[grid]
    generator = torch.Generator().manual_seed(0)
    edited, reference = torch.randn(2, channels, side, side, generator=generator)
    source_mask, reference_mask = masks()

    def match_and_differentiate():
        features = edited.clone().requires_grad_(True)
        loss, _ = _match_pair(features, reference, source_mask, reference_mask, "euclidean")
        return torch.autograd.grad(loss, features)[0]

    gradient = benchmark(match_and_differentiate)
    assert gradient.abs().sum() > 0
