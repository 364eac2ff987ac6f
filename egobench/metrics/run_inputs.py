"""Readers for the scorer's inputs in a run folder: labels, finished pairs, prompts, images and masks.

A run folder written by `egobench run` has everything (see `egobench.run_folder`). A folder made by
another tool needs only `pairs/<pair_id>/` with the inputs. Its labels then come from
`--method` and `--bench`, and its pairs are the subfolders of `pairs/`.

Target prompts for CLIP-T come from the `--prompts` CSV (columns pair_id, target_prompt), else a
`target_prompt` column of results.csv, else `pairs/<pair_id>/pair.json`.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pandas as pd
from PIL import Image, ImageOps, UnidentifiedImageError

from egobench.benches.images import to_rgb
from egobench.benches.masks import read_mask
from egobench.errors import InputError
from egobench.metrics.base import PairImages
from egobench.run_folder import MANIFEST, PAIR_RECORD, PAIRS_DIR, RESULTS_CSV, pair_files, read_json_object

# Suffixes tried, in order, for `<edited_dir>/<pair_id>.<suffix>`.
EDITED_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def read_manifest(run_dir: Path) -> dict | None:
    """Return the run's manifest.json as a dict, or None when the folder has none."""
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    return read_json_object(path, "repair it or pass --method and --bench")


def run_labels(run_dir: Path, manifest: dict | None, method: str | None, bench: str | None) -> tuple[str, str]:
    """Return the method and benchmark names for metrics.csv: the options if given, else the manifest's."""
    labels = {}
    for key, given in (("method", method), ("bench", bench)):
        value = given if given is not None else _label((manifest or {}).get(key))
        if not value:
            raise InputError(f"{run_dir}: no {key} name in {MANIFEST}; pass --{key} NAME")
        labels[key] = value
    return labels["method"], labels["bench"]


def _label(value) -> str | None:
    """Accept a plain name or a mapping with a `name` key, as manifests may record either."""
    if isinstance(value, dict):
        value = value.get("name")
    return str(value) if value else None


def read_results(run_dir: Path) -> pd.DataFrame | None:
    """Return results.csv with one row per pair (the last row of a pair wins), or None when absent."""
    path = run_dir / RESULTS_CSV
    if not path.is_file():
        return None
    try:
        results = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV ({error}); repair it or move it away") from error
    for column in ("pair_id", "status"):
        if column not in results.columns:
            raise InputError(f"{path}: column {column!r} missing; expected at least pair_id and status")
    return results.drop_duplicates("pair_id", keep="last")


def finished_pair_ids(run_dir: Path, results: pd.DataFrame | None) -> list[str]:
    """Return the ids of pairs to score: status `done` in results.csv, else every folder under pairs/."""
    if results is not None:
        return results.loc[results["status"] == "done", "pair_id"].tolist()

    pairs_dir = run_dir / PAIRS_DIR
    if not pairs_dir.is_dir():
        raise InputError(
            f"{run_dir}: neither {RESULTS_CSV} nor a {PAIRS_DIR}/ folder found; pass a run folder made by egobench run"
        )
    return sorted(folder.name for folder in pairs_dir.iterdir() if folder.is_dir())


def target_prompts(
    run_dir: Path, pair_ids: list[str], results: pd.DataFrame | None, prompts_file: str | Path | None
) -> dict[str, str]:
    """Return the target prompt of every pair that has one (see the module docstring for the sources)."""
    prompts: dict[str, str] = {}
    if results is not None and "target_prompt" in results.columns:
        prompts.update(zip(results["pair_id"], results["target_prompt"]))

    for pair_id in pair_ids:
        if prompts.get(pair_id):
            continue
        record_path = pair_files(run_dir, pair_id).record
        if record_path.is_file():
            try:
                record = json.loads(record_path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError) as error:
                raise InputError(f"{record_path}: not valid JSON ({error}); repair it or pass --prompts") from error
            if isinstance(record, dict) and record.get("target_prompt"):
                prompts[pair_id] = str(record["target_prompt"])

    if prompts_file is not None:
        prompts.update(_read_prompts_file(Path(prompts_file)))
    return {pair_id: prompt for pair_id, prompt in prompts.items() if prompt}


def _read_prompts_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise InputError(f"{path}: prompts file not found; pass a CSV with columns pair_id,target_prompt")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable CSV ({error}); expected columns pair_id,target_prompt") from error
    if not {"pair_id", "target_prompt"} <= set(table.columns):
        raise InputError(f"{path}: expected columns pair_id,target_prompt, found {', '.join(table.columns)}")
    return dict(zip(table["pair_id"], table["target_prompt"]))


def edited_path(run_dir: Path, pair_id: str, edited_dir: Path | None) -> Path:
    """Return the edited image of a pair: `<edited_dir>/<pair_id>.png` (or .jpg, .jpeg, .webp), else the run's."""
    if edited_dir is None:
        return pair_files(run_dir, pair_id).edited
    for suffix in EDITED_SUFFIXES:
        candidate = edited_dir / f"{pair_id}{suffix}"
        if candidate.is_file():
            return candidate
    return edited_dir / f"{pair_id}{EDITED_SUFFIXES[0]}"


def load_pair(run_dir: Path, pair_id: str, edited_dir: Path | None, target_prompt: str | None) -> PairImages:
    """Read one pair's images and masks; a file that cannot be read is recorded in `missing`, not raised."""
    files = pair_files(run_dir, pair_id)
    pair = PairImages(pair_id=pair_id, target_prompt=target_prompt or None)
    if not target_prompt:
        pair.missing["target_prompt"] = (
            f"no target prompt for this pair; add a target_prompt column to {RESULTS_CSV}, "
            f"write {PAIRS_DIR}/{pair_id}/{PAIR_RECORD}, or pass --prompts"
        )

    for field_name, path in (
        ("edited", edited_path(run_dir, pair_id, edited_dir)),
        ("source", files.source),
        ("reference", files.reference),
    ):
        try:
            image, digest = _read_image(path)
        except InputError as error:
            pair.missing[field_name] = str(error)
            continue
        setattr(pair, field_name, image)
        if field_name == "reference":
            pair.reference_digest = digest

    for field_name, path in (("source_mask", files.source_mask), ("reference_mask", files.reference_mask)):
        try:
            setattr(pair, field_name, read_mask(path))
        except InputError as error:
            pair.missing[field_name] = str(error)
        except (UnidentifiedImageError, OSError) as error:
            pair.missing[field_name] = f"{path}: not a readable mask image ({error})"
    return pair


def _read_image(path: Path) -> tuple[Image.Image, str]:
    """Return the image as RGB and the SHA-256 of the file's bytes, read once."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: image not found") from None
    except OSError as error:
        raise InputError(f"{path}: image not readable ({error})") from error
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            image = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError) as error:
        raise InputError(f"{path}: not a readable image ({error})") from error
    return to_rgb(image), hashlib.sha256(data).hexdigest()
