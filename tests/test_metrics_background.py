"""Background preservation: PSNR, SSIM, MSE and LPIPS outside the source mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from egobench.metrics import Missing, PairImages
from egobench.metrics.background import (
    PSNR_CAP_DB,
    BackgroundLPIPS,
    BackgroundMSE,
    BackgroundPSNR,
    BackgroundSSIM,
    alexnet_weights_path,
    ssim_map,
)

SIZE = 64


def _source() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
    mask = np.zeros((SIZE, SIZE), dtype=bool)
    mask[16:40, 20:48] = True
    return pixels, mask


def _pair(source: np.ndarray, edited: np.ndarray, mask: np.ndarray) -> PairImages:
    return PairImages(
        pair_id="p",
        source=Image.fromarray(source),
        edited=Image.fromarray(edited),
        source_mask=mask,
    )


def _perturb_background(source: np.ndarray, mask: np.ndarray, amount: int, fraction: float) -> np.ndarray:
    """Add `amount` to a `fraction` of the background rows, clipped to 8 bits."""
    edited = source.astype(np.int32)
    rows = int(SIZE * fraction)
    region = np.zeros_like(mask)
    region[:rows] = True
    region &= ~mask
    edited[region] += amount
    return np.clip(edited, 0, 255).astype(np.uint8)


def test_psnr_unchanged_background_capped():
    source, mask = _source()
    edited = source.copy()
    edited[mask] = 0  # only the object changes

    pair = _pair(source, edited, mask)
    assert BackgroundPSNR()([pair]) == [PSNR_CAP_DB]
    assert BackgroundMSE()([pair]) == [0.0]
    assert BackgroundSSIM()([pair])[0] == pytest.approx(1.0, abs=1e-6)


def test_psnr_falls_as_background_changes():
    source, mask = _source()
    slight = _pair(source, _perturb_background(source, mask, 3, 0.25), mask)
    more = _pair(source, _perturb_background(source, mask, 3, 1.0), mask)
    much = _pair(source, _perturb_background(source, mask, 40, 1.0), mask)

    psnr = BackgroundPSNR()([slight, more, much])
    assert psnr[0] < PSNR_CAP_DB
    assert psnr[0] > psnr[1] > psnr[2]


def test_psnr_matches_formula():
    source, mask = _source()
    edited = _perturb_background(source, mask, 10, 0.5)
    background = ~mask
    difference = (source[background].astype(np.float64) - edited[background].astype(np.float64)) / 255.0
    mse = float(np.mean(difference**2))

    pair = _pair(source, edited, mask)
    assert BackgroundMSE()([pair])[0] == pytest.approx(mse, rel=1e-5)
    assert BackgroundPSNR()([pair])[0] == pytest.approx(10 * np.log10(1 / mse), rel=1e-5)


def test_ssim_falls_as_background_changes():
    source, mask = _source()
    slight = _pair(source, _perturb_background(source, mask, 5, 0.25), mask)
    much = _pair(source, _perturb_background(source, mask, 60, 1.0), mask)

    ssim = BackgroundSSIM()([slight, much])
    assert 1.0 > ssim[0] > ssim[1]


@pytest.mark.parametrize("metric_class", [BackgroundMSE, BackgroundPSNR, BackgroundSSIM])
def test_background_metrics_are_symmetric(metric_class):
    source, mask = _source()
    edited = _perturb_background(source, mask, 25, 0.6)
    edited[mask] = 255 - edited[mask]

    forward = metric_class()([_pair(source, edited, mask)])[0]
    backward = metric_class()([_pair(edited, source, mask)])[0]
    assert forward == pytest.approx(backward, rel=1e-6)


def test_object_change_spares_ssim():
    """A changed object must not lower SSIM through windows that overlap the mask border."""
    source, mask = _source()
    edited = source.copy()
    edited[mask] = 255 - edited[mask]
    assert BackgroundSSIM()([_pair(source, edited, mask)])[0] == pytest.approx(1.0, abs=1e-6)


def test_edited_of_other_size_is_resized():
    _, mask = _source()
    columns, rows = np.meshgrid(np.linspace(0, 255, SIZE), np.linspace(0, 255, SIZE))
    smooth = np.stack([columns, rows, np.full_like(rows, 128)], axis=-1).astype(np.uint8)
    large = np.asarray(Image.fromarray(smooth).resize((2 * SIZE, 2 * SIZE), Image.Resampling.BICUBIC))

    value = BackgroundPSNR()([_pair(smooth, large, mask)])[0]
    assert isinstance(value, float)
    # Resampling a smooth image there and back loses little, so the background reads as nearly unchanged.
    assert 35 < value < PSNR_CAP_DB


def test_full_mask_has_no_background():
    source, _ = _source()
    full = np.ones((SIZE, SIZE), dtype=bool)
    for metric_class in (BackgroundMSE, BackgroundPSNR, BackgroundSSIM):
        value = metric_class()([_pair(source, source, full)])[0]
        assert isinstance(value, Missing)
        assert "no background" in value.reason


def test_lpips_without_weights_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    source, mask = _source()

    value = BackgroundLPIPS()([_pair(source, source, mask)])[0]
    assert isinstance(value, Missing)
    assert str(alexnet_weights_path()) in value.reason


@pytest.mark.slow
def test_lpips_with_local_weights(tmp_path, monkeypatch):
    """Random AlexNet weights placed in the torch hub cache stand in for the ImageNet ones."""
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = alexnet_weights_path()
    path.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), path)

    source, mask = _source()
    edited = source.copy()
    edited[mask] = 255 - edited[mask]
    unchanged = _pair(source, edited, mask)
    changed = _pair(source, _perturb_background(source, mask, 60, 1.0), mask)

    swapped = _pair(np.asarray(changed.edited), source, mask)

    metric = BackgroundLPIPS()
    unchanged_value, changed_value, swapped_value = metric([unchanged, changed, swapped])
    assert unchanged_value == pytest.approx(0.0, abs=1e-6)
    assert changed_value > 0.0
    assert swapped_value == pytest.approx(changed_value, rel=1e-5)


def test_ssim_map_matches_torchmetrics():
    from torchmetrics.functional.image import structural_similarity_index_measure

    rng = np.random.default_rng(0)
    x = rng.random((40, 56, 3), dtype=np.float32)
    y = np.clip(x + 0.2 * rng.random((40, 56, 3), dtype=np.float32), 0, 1)

    def to_tensor(image):
        return torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0)

    _, expected = structural_similarity_index_measure(
        to_tensor(x), to_tensor(y), data_range=1.0, return_full_image=True, reduction="none"
    )
    assert np.allclose(ssim_map(x, y), expected[0].permute(1, 2, 0).numpy(), atol=1e-5)
