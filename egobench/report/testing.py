"""Synthetic run folders with the real layout, for testing reports without running a model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

from egobench.report.columns import METRIC_COLUMNS
from egobench.report.stats import mean_interval
from egobench.run_folder import MANIFEST, METRICS_CSV, RESULTS_COLUMNS, RESULTS_CSV, SUMMARY_CSV, pair_files

METRICS_HEADER = [
    "pair_id", "method", "bench", "dino", "clip_i", "clip_t",
    "bg_psnr", "bg_ssim", "bg_mse", "bg_lpips", "clip_model", "dino_model", "reason",
]  # fmt: skip


def write_run(
    folder: str | Path,
    method: str,
    scores: dict[str, dict[str, float | None]],
    config: dict | None = None,
    failed: dict[str, str] | None = None,
    image_size: int = 24,
    summary: bool = False,
    images: bool = True,
    encoders: tuple[str, str] = ("tiny-clip", "tiny-dino"),
) -> Path:
    """Write a run folder whose `metrics.csv` contains `scores` (pair id -> metric -> value, None for empty).

    Pairs in `failed` (pair id -> error) get a failed row in results.csv and no images. Each scored
    pair gets small PNGs whose colour depends on the pair and the method, so that images differ.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    failed = failed or {}
    config = config if config is not None else {"method": "ego", "preset": method, "ego": {"steps": 4}}
    manifest = {"method": method, "bench": "synthetic", "config": config, "seed": 0, "model": "tiny"}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    with (folder / RESULTS_CSV).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(RESULTS_COLUMNS)
        for pair_id in scores:
            writer.writerow([pair_id, "done", "0.5", ""])
        for pair_id, error in failed.items():
            writer.writerow([pair_id, "failed", "0.1", error])

    with (folder / METRICS_CSV).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(METRICS_HEADER)
        for pair_id, values in scores.items():
            row = {"pair_id": pair_id, "method": method, "bench": "synthetic"}
            row.update({name: "" if value is None else repr(float(value)) for name, value in values.items()})
            row.update(clip_model=encoders[0], dino_model=encoders[1])
            writer.writerow([row.get(column, "") for column in METRICS_HEADER])

    if summary:
        _write_summary(folder, scores)
    if images:
        for pair_id in scores:
            _write_pair_images(folder, method, pair_id, image_size)
    return folder


def _write_summary(folder: Path, scores: dict[str, dict[str, float | None]]) -> None:
    with (folder / SUMMARY_CSV).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["metric", "mean", "std", "ci_low", "ci_high", "count"])
        for name in METRIC_COLUMNS:
            values = [pair[name] for pair in scores.values() if pair.get(name) is not None]
            if values:
                interval = mean_interval(values)
                writer.writerow(
                    [name, interval.mean, interval.std, interval.ci_low, interval.ci_high, interval.count]
                )


def _write_pair_images(folder: Path, method: str, pair_id: str, size: int) -> None:
    files = pair_files(folder, pair_id)
    files.folder.mkdir(parents=True, exist_ok=True)
    pair_seed = sum(pair_id.encode())
    method_seed = sum(method.encode())
    _solid(files.source, size, pair_seed)
    _solid(files.reference, size, pair_seed + 7)
    _solid(files.edited, size, pair_seed + method_seed)
    mask = np.zeros((size, size), dtype=np.uint8)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 255
    Image.fromarray(mask, mode="L").save(files.source_mask)
    Image.fromarray(mask, mode="L").save(files.reference_mask)


def _solid(path: Path, size: int, seed: int) -> None:
    colour = np.random.default_rng(seed).integers(0, 256, size=3, dtype=np.uint8)
    Image.fromarray(np.broadcast_to(colour, (size, size, 3)).copy(), mode="RGB").save(path)
