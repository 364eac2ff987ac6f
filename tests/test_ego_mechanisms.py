"""EGO-Edit's mechanisms, each checked on the tiny random model."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from egobench.config import load_preset
from egobench.errors import ConfigError
from egobench.methods.ego import EgoEdit
from egobench.methods.ego.content_composition import content_composition, unique_matches
from egobench.methods.ego.gradient_scaling import background_gradient_smoothing, background_gradient_truncation
from egobench.methods.ego.image_energy import Matches, image_energy, nearest_points
from egobench.methods.ego.spatial import downsample_mask
from egobench.methods.ego.text_energy import text_energy_gradient
from egobench.methods.ego.timestep_schedule import timestep_schedule
from egobench.models.stable_diffusion import load_stable_diffusion
from egobench.models.unet_features import unet_prefix, unet_suffix
from tests.helpers import loaded_pair


@pytest.fixture(scope="module")
def tiny_sd():
    return load_stable_diffusion("tiny")


def make_ego(tiny_sd, *overrides: str) -> EgoEdit:
    config = load_preset("ego", ["ego.steps=8", "ego.schedule.t_max=700", "ego.schedule.t_min=300", *overrides])
    return EgoEdit(config, model="tiny", sd=tiny_sd)


def outside(latent: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return latent[mask.expand_as(latent) == 0]


def test_schedule_descending_is_strict():
    steps = timestep_schedule("descending", 50, 900, 50)
    assert len(steps) == 50
    assert steps[0] == 900
    assert steps[-1] == 50
    assert all(a > b for a, b in itertools.pairwise(steps))


def test_schedule_ascending_reverses_descending():
    assert timestep_schedule("ascending", 20, 800, 100) == timestep_schedule("descending", 20, 800, 100)[::-1]


def test_schedule_random_is_seeded_and_distinct():
    first = timestep_schedule("random", 30, 900, 50, seed=3)
    assert first == timestep_schedule("random", 30, 900, 50, seed=3)
    assert first != timestep_schedule("random", 30, 900, 50, seed=4)
    assert len(set(first)) == 30
    assert all(50 <= t <= 900 for t in first)


@pytest.mark.parametrize(
    "kind, steps, t_max, t_min",
    [("sideways", 10, 900, 50), ("descending", 0, 900, 50), ("descending", 10, 50, 900), ("descending", 100, 120, 50)],
)
def test_schedule_rejects_bad_settings(kind, steps, t_max, t_min):
    with pytest.raises(ConfigError):
        timestep_schedule(kind, steps, t_max, t_min)


def test_unet_prefix_and_suffix_equal_full_forward(tiny_sd):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, 16, 16, generator=generator)
    prompts = tiny_sd.encode_prompts(["a dog", ""])
    timesteps = torch.tensor([700, 20])
    with torch.no_grad():
        expected = tiny_sd.unet(sample, timesteps, prompts).sample
        for up_block in range(len(tiny_sd.unet.up_blocks)):
            _, state = unet_prefix(tiny_sd.unet, sample, timesteps, prompts, up_block)
            assert torch.equal(unet_suffix(tiny_sd.unet, state), expected)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_nearest_points_equals_brute_force(distance):
    generator = torch.Generator().manual_seed(1)
    reference = torch.randn(37, 16, generator=generator)
    candidates = torch.randn(53, 16, generator=generator)
    indices, distances = nearest_points(reference, candidates, distance)
    for row in range(reference.shape[0]):
        if distance == "euclidean":
            scores = [float(torch.linalg.vector_norm(reference[row] - candidate)) for candidate in candidates]
        else:
            scores = [1 - float(torch.nn.functional.cosine_similarity(reference[row], candidate, dim=0)) for candidate in candidates]
        assert int(indices[row]) == int(np.argmin(scores))
        assert float(distances[row]) == pytest.approx(min(scores), abs=1e-4)


def test_image_energy_matches_brute_force_inside_masks(tiny_sd):
    pair = loaded_pair()
    source_mask = torch.from_numpy(pair.source_mask.astype(np.float32))[None, None]
    reference_mask = torch.from_numpy(pair.reference_mask.astype(np.float32))[None, None]
    generator = torch.Generator().manual_seed(2)
    latent = torch.randn(1, 4, 16, 16, generator=generator)
    reference_noisy = torch.randn(1, 4, 16, 16, generator=generator)
    noise = torch.randn(1, 4, 16, 16, generator=generator)
    alpha_bar = tiny_sd.alphas_cumprod()[400]
    prompt = tiny_sd.encode_prompts(["a cube"])

    energy = image_energy(tiny_sd.unet, latent, reference_noisy, noise, alpha_bar, 400, prompt, source_mask, reference_mask, 1, "euclidean", with_gradient=True)

    with torch.no_grad():
        edited = unet_prefix(tiny_sd.unet, alpha_bar.sqrt() * latent + (1 - alpha_bar).sqrt() * noise, torch.tensor([400]), prompt, 1)[0][0]
        reference = unet_prefix(tiny_sd.unet, reference_noisy, torch.tensor([400]), prompt, 1)[0][0]
    grid = tuple(edited.shape[-2:])
    source_cells = downsample_mask(source_mask, grid).flatten().nonzero().flatten().tolist()
    reference_cells = downsample_mask(reference_mask, grid).flatten().nonzero().flatten().tolist()
    edited_points, reference_points = edited.flatten(1).T, reference.flatten(1).T
    expected_loss = 0.0
    for position, reference_cell in enumerate(reference_cells):
        distances = [float(torch.linalg.vector_norm(reference_points[reference_cell] - edited_points[cell])) for cell in source_cells]
        best = source_cells[int(np.argmin(distances))]
        assert int(energy.matches.source_cells[position]) == best
        assert int(energy.matches.reference_cells[position]) == reference_cell
        expected_loss += float((edited_points[best] - reference_points[reference_cell]).pow(2).sum())
    assert float(energy.loss) == pytest.approx(expected_loss, rel=1e-4)
    assert energy.gradient is not None and energy.gradient.abs().sum() > 0


def test_content_composition_copies_exactly_the_matched_points():
    generator = torch.Generator().manual_seed(3)
    latent = torch.randn(1, 4, 8, 8, generator=generator)
    reference_latent = torch.randn(1, 4, 8, 8, generator=generator)
    latent_mask = torch.zeros(1, 1, 8, 8)
    latent_mask[..., :, :6] = 1
    # Grid 4x4, so each cell is a 2x2 latent block. Source cell 5 is matched twice: the closer one wins.
    matches = Matches(
        reference_cells=torch.tensor([0, 10, 15, 6]),
        source_cells=torch.tensor([5, 5, 3, 9]),
        distances=torch.tensor([0.9, 0.1, 0.5, 0.2]),
        grid=(4, 4),
    )
    composed = content_composition(latent, reference_latent, matches, latent_mask)

    expected = latent.clone()
    for source_cell, reference_cell in [(5, 10), (3, 15), (9, 6)]:
        for dy, dx in itertools.product(range(2), range(2)):
            sy, sx = source_cell // 4 * 2 + dy, source_cell % 4 * 2 + dx
            ry, rx = reference_cell // 4 * 2 + dy, reference_cell % 4 * 2 + dx
            if latent_mask[0, 0, sy, sx]:
                expected[0, :, sy, sx] = reference_latent[0, :, ry, rx]
    assert torch.equal(composed, expected)
    # Cell 3 covers latent columns 6-7, outside the mask, so nothing there may change.
    assert torch.equal(composed[..., 6:], latent[..., 6:])
    assert not torch.equal(composed, latent)


def test_unique_matches_keeps_closest_per_source_cell():
    matches = Matches(torch.tensor([1, 2, 3]), torch.tensor([7, 7, 4]), torch.tensor([0.5, 0.2, 0.9]), (4, 4))
    source, reference = unique_matches(matches)
    assert dict(zip(source.tolist(), reference.tolist())) == {4: 3, 7: 2}


def test_truncation_zeroes_text_gradient_outside_mask(tiny_sd):
    pair = loaded_pair()
    mask = downsample_mask(torch.from_numpy(pair.source_mask.astype(np.float32))[None, None], (16, 16)).float()
    generator = torch.Generator().manual_seed(4)
    edited, source = torch.randn(2, 1, 4, 16, 16, generator=generator)
    prompts = EgoEdit(load_preset("ego", ["ego.steps=2"]), model="tiny", sd=tiny_sd)._encode_prompts(pair)[0]
    gradient = text_energy_gradient(tiny_sd.unet, edited, source, 500, prompts, 7.5, 0.3)
    truncated = background_gradient_truncation(gradient, mask)
    assert outside(gradient, mask).abs().sum() > 0
    assert outside(truncated, mask).abs().sum() == 0
    assert torch.equal(truncated[mask.expand_as(truncated) == 1], gradient[mask.expand_as(gradient) == 1])


def test_smoothing_keeps_inside_and_blurs_outside():
    gradient = torch.zeros(1, 4, 16, 16)
    gradient[..., 8, 8] = 1.0
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 8, 8] = 1
    smoothed = background_gradient_smoothing(gradient, mask, sigma=1.0)
    assert smoothed[0, 0, 8, 8] == 1.0
    assert smoothed[0, 0, 8, 9] > 0
    assert smoothed[0, 0, 0, 0] == pytest.approx(0.0, abs=1e-6)


def test_text_only_run_leaves_background_latent_untouched(tiny_sd):
    pair = loaded_pair()
    method = make_ego(tiny_sd, "ego.image_energy.enabled=false", "ego.content_composition.enabled=false")
    latent = method.optimise(pair, seed=0)
    source_latent = tiny_sd.encode_image(torch.from_numpy(np.asarray(pair.source, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None])
    mask = downsample_mask(torch.from_numpy(pair.source_mask.astype(np.float32))[None, None], (16, 16))
    assert torch.equal(outside(latent, mask), outside(source_latent, mask))
    assert not torch.equal(latent, source_latent)


def test_truncation_off_changes_background(tiny_sd):
    pair = loaded_pair()
    method = make_ego(tiny_sd, "ego.image_energy.enabled=false", "ego.content_composition.enabled=false", "ego.gradient_scaling.truncation=false")
    latent = method.optimise(pair, seed=0)
    source_latent = tiny_sd.encode_image(torch.from_numpy(np.asarray(pair.source, dtype=np.float32) / 127.5 - 1).permute(2, 0, 1)[None])
    mask = downsample_mask(torch.from_numpy(pair.source_mask.astype(np.float32))[None, None], (16, 16))
    assert not torch.equal(outside(latent, mask), outside(source_latent, mask))


def test_same_seed_same_result_other_seed_differs(tiny_sd):
    pair = loaded_pair()
    method = make_ego(tiny_sd)
    first = method.optimise(pair, seed=5)
    assert torch.equal(first, method.optimise(pair, seed=5))
    assert not torch.equal(first, method.optimise(pair, seed=6))


def test_mechanisms_in_trace_follow_the_config(tiny_sd):
    pair = loaded_pair()
    full = make_ego(tiny_sd, "ego.content_composition.start_t=600", "ego.content_composition.interval=1")
    full.optimise(pair, seed=0)
    assert any(record.image_gradient_norm for record in full.trace)
    assert all(record.image_energy is None for record in full.trace if record.timestep > 600)
    assert [record.composed for record in full.trace] == [600 >= record.timestep > 500 for record in full.trace]

    without_image_energy = make_ego(tiny_sd, "ego.image_energy.enabled=false", "ego.content_composition.enabled=false")
    without_image_energy.optimise(pair, seed=0)
    assert all(record.image_energy is None for record in without_image_energy.trace)

    without_composition = make_ego(tiny_sd, "ego.content_composition.enabled=false")
    without_composition.optimise(pair, seed=0)
    assert not any(record.composed for record in without_composition.trace)

    without_text = make_ego(tiny_sd, "ego.text_energy.enabled=false")
    without_text.optimise(pair, seed=0)
    assert all(record.text_gradient_norm == 0.0 for record in without_text.trace)


def test_composition_interval_spaces_copies(tiny_sd):
    pair = loaded_pair()
    method = make_ego(tiny_sd, "ego.steps=20", "ego.content_composition.start_t=600", "ego.content_composition.window=200", "ego.content_composition.interval=2")
    method.optimise(pair, seed=0)
    in_window = [record for record in method.trace if 600 >= record.timestep > 400]
    assert [record.composed for record in in_window] == [index % 2 == 0 for index in range(len(in_window))]


def test_negative_prompt_changes_result_only_when_weighted(tiny_sd):
    pair = loaded_pair()
    plain = make_ego(tiny_sd, "ego.text_energy.negative_weight=0").optimise(pair, seed=0)
    empty_prompt = make_ego(tiny_sd, "ego.text_energy.negative_prompt=''").optimise(pair, seed=0)
    weighted = make_ego(tiny_sd, "ego.text_energy.negative_weight=0.5").optimise(pair, seed=0)
    assert torch.equal(plain, empty_prompt)
    assert not torch.equal(plain, weighted)


def test_unknown_setting_is_rejected(tiny_sd):
    with pytest.raises(ConfigError, match="unknown setting"):
        EgoEdit({"method": "ego", "ego": {"stepz": 3}}, model="tiny", sd=tiny_sd)


def test_edit_returns_image_at_model_resolution(tiny_sd):
    method = make_ego(tiny_sd, "ego.steps=2")
    image = method.edit(loaded_pair(), seed=0)
    assert image.size == (128, 128)
    assert image.mode == "RGB"
