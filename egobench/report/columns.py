"""The metric columns of `metrics.csv`: how tables title them and which way is better."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricColumn:
    """A score column of `metrics.csv`."""

    name: str
    title: str
    higher_is_better: bool


# Table order follows the EGO-Edit paper's Table 1: subject fidelity (DINO, CLIP-I), prompt fidelity (CLIP-T), then
# how much of the background outside the source mask survived the edit.
METRIC_COLUMNS: dict[str, MetricColumn] = {
    column.name: column
    for column in (
        MetricColumn("dino", "DINO", True),
        MetricColumn("clip_i", "CLIP-I", True),
        MetricColumn("clip_t", "CLIP-T", True),
        MetricColumn("bg_psnr", "BG PSNR", True),
        MetricColumn("bg_ssim", "BG SSIM", True),
        MetricColumn("bg_lpips", "BG LPIPS", False),
        MetricColumn("bg_mse", "BG MSE", False),
    )
}

# Columns that describe a row rather than score it.
ENCODER_COLUMNS = ("clip_model", "dino_model")
INFO_COLUMNS = ("pair_id", "method", "bench", *ENCODER_COLUMNS, "reason")


def metric_column(name: str) -> MetricColumn:
    """Return the column named `name`; raises KeyError for a name that is not a metric."""
    return METRIC_COLUMNS[name]
