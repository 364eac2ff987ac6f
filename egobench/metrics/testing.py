"""Synthetic run folders for tests and benchmarks of the scorer; nothing here is used in a real run.

A synthetic pair is a flat-coloured background with a gradient and a square object. The
reference shows another square object, and the edited image is the source with the reference
object pasted into the source object's place plus a little noise on part of the background.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from egobench.run_folder import MANIFEST, RESULTS_COLUMNS, RESULTS_CSV, pair_files

PROMPTS = ("a photo of a red toy", "a photo of a blue mug", "a photo of a green backpack")


def make_run_folder(
    run_dir: str | Path,
    pair_count: int = 4,
    size: int = 64,
    seed: int = 0,
    references: int = 2,
    failed: int = 1,
    method: str = "synthetic-method",
    bench: str = "synthetic-bench",
) -> list[str]:
    """Write a run folder with `pair_count` finished pairs and `failed` failed ones; return the finished ids.

    Pairs cycle through `references` distinct reference images, so that references are shared.
    Each finished pair gets `pair.json` with its target prompt; failed pairs have no images.
    """
    run_dir = Path(run_dir)
    rng = np.random.default_rng(seed)
    reference_images = [_random_scene(rng, size) for _ in range(references)]

    finished = []
    rows = []
    for index in range(pair_count):
        pair_id = f"pair-{index:03d}"
        source, source_mask = _random_scene(rng, size)
        reference, reference_mask = reference_images[index % references]
        edited = _paste_object(source, source_mask, reference, reference_mask)
        if index % 2 == 1:
            # Every other edit also disturbs the background, so background metrics vary across pairs.
            noise = rng.normal(0, 8, edited.shape)
            edited = np.clip(edited + noise * (~source_mask)[..., None], 0, 255).astype(np.uint8)

        files = pair_files(run_dir, pair_id)
        files.folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(source).save(files.source)
        Image.fromarray(reference).save(files.reference)
        Image.fromarray(edited).save(files.edited)
        _save_mask(source_mask, files.source_mask)
        _save_mask(reference_mask, files.reference_mask)
        (files.folder / "pair.json").write_text(
            json.dumps({"pair_id": pair_id, "target_prompt": PROMPTS[index % len(PROMPTS)]}), encoding="utf-8"
        )
        rows.append({"pair_id": pair_id, "status": "done", "seconds": 1.0, "error": ""})
        finished.append(pair_id)

    for index in range(failed):
        rows.append({"pair_id": f"failed-{index:03d}", "status": "failed", "seconds": 0.1, "error": "NaN loss"})

    (run_dir / MANIFEST).write_text(json.dumps({"method": method, "bench": bench, "device": "cpu"}), encoding="utf-8")
    pd.DataFrame(rows, columns=RESULTS_COLUMNS).to_csv(run_dir / RESULTS_CSV, index=False)
    return finished


def _random_scene(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Return an RGB uint8 image and the boolean mask of its square object."""
    ramp = np.linspace(0, 1, size, dtype=np.float32)
    base = rng.uniform(40, 200, 3).astype(np.float32)
    image = base[None, None, :] + 40 * ramp[None, :, None] + 20 * ramp[:, None, None]

    side = int(rng.integers(size // 4, size // 2))
    top, left = rng.integers(0, size - side, 2)
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    image[mask] = rng.uniform(0, 255, 3)
    stripe = mask & (np.arange(size)[None, :] % 4 < 2)
    image[stripe] *= 0.6
    return np.clip(image, 0, 255).astype(np.uint8), mask


def _paste_object(source: np.ndarray, source_mask: np.ndarray, reference: np.ndarray, reference_mask: np.ndarray) -> np.ndarray:
    """Resize the reference object's box onto the source object's box."""
    edited = source.copy()
    rows, columns = np.nonzero(source_mask)
    top, bottom, left, right = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    reference_rows, reference_columns = np.nonzero(reference_mask)
    crop = reference[reference_rows.min() : reference_rows.max() + 1, reference_columns.min() : reference_columns.max() + 1]
    patch = np.asarray(Image.fromarray(crop).resize((right - left, bottom - top), Image.Resampling.BILINEAR))
    edited[top:bottom, left:right] = patch
    return edited


def _save_mask(mask: np.ndarray, path: Path) -> None:
    Image.fromarray(mask.astype(np.uint8) * 255, mode="L").save(path)
