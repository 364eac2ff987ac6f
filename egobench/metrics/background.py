"""Background preservation: how much the edit changed the source image outside the source mask.

Every metric here compares the source and the edited image on the background, the pixels where
the source mask is False, with values in [0, 1]. Before the windowed metrics (SSIM, LPIPS) run,
both images get the same pixels inside the mask, the mean of the two, so that a changed object
cannot leak into the background score through a window that overlaps the mask border. That
keeps every metric symmetric in source and edited.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

import cv2
import numpy as np
import torch
from PIL import Image

from egobench.metrics import register_metric
from egobench.metrics.base import Metric, MetricValue, Missing, PairImages

# PSNR of an unchanged background is infinite (MSE 0). It is reported as this value instead, so that
# means and intervals stay finite. For scale: one 8-bit level changed in one channel of one pixel of a
# 512 x 512 background gives about 107 dB, so every value at this cap means "essentially unchanged".
PSNR_CAP_DB = 100.0


@dataclass
class Background:
    """Source and edited pixels as float32 (height, width, 3) arrays in [0, 1], and the background mask."""

    source: np.ndarray
    edited: np.ndarray
    background: np.ndarray

    def composited(self) -> tuple[np.ndarray, np.ndarray]:
        """Return both images with the object region replaced by their mean, identical in both."""
        mean = (self.source + self.edited) / 2
        inside = ~self.background
        source = self.source.copy()
        edited = self.edited.copy()
        source[inside] = mean[inside]
        edited[inside] = mean[inside]
        return source, edited


def extract_background(pair: PairImages) -> Background | Missing:
    """Align edited image and mask to the source's size and return the pixels to compare.

    NOTE: an edited image of another size than the source (an external method with its own
    resolution) is resized to the source's size with bicubic filtering. That resampling changes
    pixels too, so its background scores include the resampling error.
    """
    size = pair.source.size
    edited = pair.edited
    if edited.size != size:
        edited = edited.resize(size, Image.Resampling.BICUBIC)
    mask = pair.source_mask
    if (mask.shape[1], mask.shape[0]) != size:
        mask_image = Image.fromarray(mask.astype(np.uint8) * 255, mode="L").resize(size, Image.Resampling.NEAREST)
        mask = np.asarray(mask_image) >= 128

    background = ~mask
    if not background.any():
        return Missing("source mask covers the whole image, so there is no background to compare")
    return Background(
        source=np.asarray(pair.source, dtype=np.float32) / 255.0,
        edited=np.asarray(edited, dtype=np.float32) / 255.0,
        background=background,
    )


def background_mse(background: Background) -> float:
    difference = background.source[background.background] - background.edited[background.background]
    return float(np.mean(np.square(difference, dtype=np.float64)))


class BackgroundMetric(Metric):
    """A metric computed one pair at a time from the pair's `Background`."""

    inputs = ("edited", "source", "source_mask")

    def __init__(self, device: str | torch.device = "cpu"):
        self.device = torch.device(device)

    def compute(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        values: list[MetricValue] = []
        for pair in pairs:
            background = extract_background(pair)
            values.append(background if isinstance(background, Missing) else self.score(background))
        return values

    def score(self, background: Background) -> MetricValue:
        raise NotImplementedError

    def _tensors(self, *images: np.ndarray) -> list[torch.Tensor]:
        """Convert (height, width, 3) arrays to (1, 3, height, width) tensors on the metric's device."""
        return [torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0).to(self.device) for image in images]


@register_metric("bg_mse")
class BackgroundMSE(BackgroundMetric):
    """Mean squared error between source and edited over background pixels and RGB channels.

        mse = mean over background pixels p and channels c of (source[p, c] - edited[p, c])^2

    Pixel values are in [0, 1]. Lower is better, and 0 means the background is unchanged.
    """

    higher_is_better = False

    def score(self, background: Background) -> float:
        return background_mse(background)


@register_metric("bg_psnr")
class BackgroundPSNR(BackgroundMetric):
    """Peak signal-to-noise ratio in dB between source and edited on the background.

        psnr = 10 * log10(1 / mse),  with mse as in `BackgroundMSE` (peak value 1)

    An unchanged background (mse 0) has infinite PSNR and is reported as `PSNR_CAP_DB` (100 dB);
    larger finite values are capped there too. Higher is better.
    """

    def score(self, background: Background) -> float:
        mse = background_mse(background)
        if mse == 0.0:
            return PSNR_CAP_DB
        return min(PSNR_CAP_DB, 10.0 * math.log10(1.0 / mse))


@register_metric("bg_ssim")
class BackgroundSSIM(BackgroundMetric):
    """Structural similarity between source and edited, averaged over background pixels.

        ssim(x, y) = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))

    with means, variances and covariance taken per RGB channel in an 11 x 11 Gaussian window
    (sigma 1.5, reflected at the image border), C1 = 0.01^2 and C2 = 0.03^2 for a data range of 1,
    which are torchmetrics' defaults (torchmetrics 1.9). The per-pixel map of
    the composited images (see the module docstring) is averaged over channels and background
    pixels. Higher is better, and 1 means unchanged.
    """

    def score(self, background: Background) -> float:
        source, edited = background.composited()
        return float(ssim_map(edited, source).mean(axis=2)[background.background].mean())


SSIM_SIGMA = 1.5
SSIM_WINDOW = 11
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def ssim_map(x: np.ndarray, y: np.ndarray, data_range: float = 1.0) -> np.ndarray:
    """Return the per-pixel SSIM of two float32 (height, width, channels) images, same shape.

    The window runs through OpenCV's Gaussian blur, on the CPU whatever the run's device. Its map
    equals torchmetrics' to float rounding and took 12 ms against torchmetrics' 400 ms for one
    512 x 512 RGB image on the 2-core development machine.
    """

    def blur(image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(image, (SSIM_WINDOW, SSIM_WINDOW), SSIM_SIGMA, borderType=cv2.BORDER_REFLECT_101)

    mu_x = blur(x)
    mu_y = blur(y)
    variance_x = np.maximum(blur(x * x) - mu_x * mu_x, 0.0)
    variance_y = np.maximum(blur(y * y) - mu_y * mu_y, 0.0)
    covariance = blur(x * y) - mu_x * mu_y

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    structure = (2 * covariance + c2) / (variance_x + variance_y + c2)
    return luminance * structure


@register_metric("bg_lpips")
class BackgroundLPIPS(BackgroundMetric):
    """LPIPS (AlexNet) between source and edited, averaged over background pixels.

        lpips = sum over layers l of upsample(w_l . (phi_l(source) - phi_l(edited))^2), unit-normalised phi_l

    computed by torchmetrics' LPIPS network as a per-pixel map of the composited images (see the
    module docstring), then averaged over background pixels. Lower is better.

    The linear weights `w_l` ship with torchmetrics; the AlexNet backbone needs torchvision's
    ImageNet weights in the torch hub cache. Without that file every value is empty with a reason:
    nothing is downloaded.
    """

    higher_is_better = False

    def __init__(self, device: str | torch.device = "cpu"):
        super().__init__(device)
        self._network = None
        self._unavailable = lpips_unavailable_reason()

    def compute(self, pairs: Sequence[PairImages]) -> list[MetricValue]:
        if self._unavailable:
            return [Missing(self._unavailable)] * len(pairs)
        return super().compute(pairs)

    @torch.inference_mode()
    def score(self, background: Background) -> float:
        source, edited = self._tensors(*background.composited())
        lpips_map = self._lpips_network()(source, edited, normalize=True)
        keep = torch.from_numpy(background.background).to(self.device)
        return float(lpips_map[0, 0][keep].mean())

    def _lpips_network(self):
        if self._network is None:
            # NOTE: `_NoTrainLpips` is torchmetrics' private LPIPS module (torchmetrics 1.9). It is used
            # because the public metric class returns only the spatial mean, not the per-pixel map.
            from torchmetrics.functional.image.lpips import _NoTrainLpips

            self._network = _NoTrainLpips(net="alex", spatial=True).to(self.device)
        return self._network


def alexnet_weights_path() -> Path:
    """Return where torchvision caches the ImageNet AlexNet weights that LPIPS uses."""
    from torchvision.models import AlexNet_Weights

    file_name = Path(urlparse(AlexNet_Weights.IMAGENET1K_V1.url).path).name
    return Path(torch.hub.get_dir()) / "checkpoints" / file_name


def lpips_unavailable_reason() -> str | None:
    """Return why LPIPS cannot run here, or None when its weights are in the local cache."""
    path = alexnet_weights_path()
    if not path.is_file():
        return f"LPIPS AlexNet weights not found at {path}; place {path.name} there to enable bg_lpips"
    return None
