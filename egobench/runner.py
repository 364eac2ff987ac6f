"""`egobench run`: edit every pair of a benchmark with one or more methods into run folders.

A run folder is resumable. Pairs already marked `done` in results.csv (with their edited image on
disk) are skipped, and a failing pair is recorded while the run goes on. Every file is written
atomically, so an interrupted run loses nothing that finished.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from egobench import __version__
from egobench.atomic import atomic_path, save_image_atomic, write_text_atomic
from egobench.benches import Bench, EditPair, LoadedPair
from egobench.benches.strip import pair_strip
from egobench.config import load_preset
from egobench.errors import ConfigError, EgobenchError
from egobench.logs import console
from egobench.run_folder import MANIFEST, METRICS_CSV, RESULTS_COLUMNS, RESULTS_CSV, pair_files, read_json_object

logger = logging.getLogger(__name__)

# Failures that end one pair but not the run: bad input, numerical blow-up, I/O, wrong output.
PAIR_ERRORS = (EgobenchError, FloatingPointError, OSError, ValueError, RuntimeError)
# Pairs loaded and handed to a method's `edit_batch` at once; bounds the images held in memory.
BATCH_CHUNK = 16


@dataclass
class RunRequest:
    """Everything `egobench run` needs for one method preset."""

    preset: str
    bench: Bench
    bench_options: dict
    out: Path
    model: str | None
    seed: int = 0
    limit: int | None = None
    device: str = "cpu"
    overrides: list[str] = field(default_factory=list)
    # `score_run` keyword arguments (metrics, encoders, batch size); None or no metrics skips scoring.
    scoring: dict | None = None


@dataclass
class RunOutcome:
    """Counts of done, failed and skipped pairs in one run folder, with the failures' messages."""

    run_dir: Path
    done: int
    failed: int
    skipped: int
    errors: dict[str, str]


def resolve_device(device: str) -> str:
    """Map `auto` to `cuda` when a GPU is visible, else `cpu`; check an explicit CUDA request."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: no CUDA device is visible; use --device cpu")
    return device


def run_preset(request: RunRequest) -> RunOutcome:
    """Edit the bench's pairs with one preset into `request.out`, skipping pairs already done."""
    config = load_preset(request.preset, request.overrides)
    run_dir = request.out
    pairs = request.bench.pairs()
    if request.limit is not None:
        pairs = pairs[: request.limit]
    if not pairs:
        raise EgobenchError(f"benchmark {request.bench.name!r} produced no pairs from {request.bench_options}; check --data-root")

    fingerprint = _fingerprint(request, config)
    previous = _read_manifest(run_dir)
    results = _read_results(run_dir)
    # A folder whose earlier run finished no pair contains nothing to protect, so new settings may take it over.
    has_finished_pairs = any(_is_done(run_dir, row) for row in results.values())
    if previous is not None and previous.get("fingerprint") != fingerprint and has_finished_pairs:
        raise ConfigError(
            f"{run_dir / MANIFEST}: the folder contains a run with different settings; choose a new --out or delete the folder"
        )

    pending = [pair for pair in pairs if not _is_done(run_dir, results.get(pair.pair_id))]
    skipped = len(pairs) - len(pending)
    if not pending:
        logger.info("%s: all %d pairs already done, nothing to do", run_dir, len(pairs))
        if not (run_dir / METRICS_CSV).is_file():
            _score(request, run_dir)
        return RunOutcome(run_dir, 0, 0, skipped, {})

    # Methods import torch and diffusers, which takes seconds: only a run with work to do pays for it.
    from egobench.methods import method_class

    # The model loads before anything is written, so a bad --model leaves no half-started folder.
    method = method_class(config["method"])(config, model=request.model, device=request.device)
    started_at = _now()
    manifest = _manifest(request, config, fingerprint, len(pairs), started_at, previous)
    manifest["method_identity"] = method.identity()
    manifest["resolution"] = method.resolution
    write_text_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, default=str))
    logger.info("%s: %d pairs to edit with %s (%d already done)", run_dir, len(pending), request.preset, skipped)

    # Methods with `edit_batch` (external commands, batched optimisation) get several pairs per call.
    chunk_size = max(1, int(getattr(method, "pairs_per_call", BATCH_CHUNK))) if hasattr(method, "edit_batch") else 1
    done = failed = 0
    errors: dict[str, str] = {}
    with _progress() as progress:
        task = progress.add_task(request.preset, total=len(pending), per_pair="")
        for start in range(0, len(pending), chunk_size):
            chunk = pending[start : start + chunk_size]
            started = time.perf_counter()
            outcomes = _edit_chunk(method, request.bench, chunk, run_dir, request.seed)
            seconds = (time.perf_counter() - started) / len(chunk)
            for pair, error in zip(chunk, outcomes):
                if error is None:
                    results[pair.pair_id] = _result_row(pair.pair_id, "done", seconds, "")
                    done += 1
                    continue
                message = str(error).splitlines()[0] if str(error) else type(error).__name__
                results[pair.pair_id] = _result_row(pair.pair_id, "failed", seconds, message)
                errors[pair.pair_id] = message
                failed += 1
                logger.warning("pair %s failed: %s", pair.pair_id, message)
            _write_results(run_dir, results)
            progress.update(task, advance=len(chunk), per_pair=f"{seconds:.1f} s/pair")

    manifest["finished_at"] = _now()
    write_text_atomic(run_dir / MANIFEST, json.dumps(manifest, indent=2, default=str))
    logger.info("%s: %d done, %d failed, %d skipped", run_dir, done, failed, skipped)
    if done or not (run_dir / METRICS_CSV).is_file():
        _score(request, run_dir)
    return RunOutcome(run_dir, done, failed, skipped, errors)


def _score(request: RunRequest, run_dir: Path) -> None:
    """Score the run's finished pairs into metrics.csv and summary.csv, if metrics were requested."""
    if not request.scoring or not request.scoring.get("metrics"):
        return
    if not (run_dir / RESULTS_CSV).is_file():
        return
    from egobench.metrics.scoring import score_run

    score_run(run_dir, device=request.device, show_progress=False, **request.scoring)


def check_scoring(scoring: dict | None, device: str) -> None:
    """Load the encoders the requested metrics need, so that missing weights stop a run before it edits."""
    if not scoring or not scoring.get("metrics"):
        return
    from egobench.metrics import parse_metric_names
    from egobench.metrics.scoring import build_metrics, resolve_device as metrics_device

    build_metrics(
        parse_metric_names(scoring["metrics"]),
        device=metrics_device(device),
        clip_model=scoring["clip_model"],
        clip_pretrained=scoring["clip_pretrained"],
        dino_model=scoring["dino_model"],
        dino_checkpoint=scoring["dino_checkpoint"],
    )


def scoring_for_model(scoring: dict, model: str | None, explicit: set[str]) -> dict:
    """With `--model tiny` or `sd15-random`, score with the tiny random encoders unless encoders were given.

    Random-weight edits have nothing for real CLIP or DINO weights to measure, and smoke runs must work
    without downloads. The encoder names in metrics.csv (`tiny-random-...`) record the substitution.
    """
    if model not in ("tiny", "sd15-random"):
        return scoring
    scoring = dict(scoring)
    substituted = [option for option in ("clip_model", "dino_model") if option not in explicit]
    for option in substituted:
        scoring[option] = "tiny"
    if substituted and scoring.get("metrics"):
        logger.info("--model %s: scoring with the tiny random encoders; pass --clip-model/--dino-model for real ones", model)
    return scoring


def _edit_chunk(method, bench: Bench, chunk: list[EditPair], run_dir: Path, seed: int) -> list[Exception | None]:
    """Edit the pairs of a chunk and save their files; return each pair's error, or None when done."""
    outcomes: dict[str, Exception | None] = {}
    loaded_pairs: list[LoadedPair] = []
    for pair in chunk:
        try:
            loaded_pairs.append(bench.load(pair, method.resolution, cache_dir=run_dir / "masks"))
        except PAIR_ERRORS as error:
            outcomes[pair.pair_id] = error

    if hasattr(method, "edit_batch") and loaded_pairs:
        try:
            edited_images = method.edit_batch(loaded_pairs, seed, work_dir=run_dir / "batches")
        except EgobenchError as error:
            edited_images = [error] * len(loaded_pairs)
    else:
        edited_images = []
        for loaded in loaded_pairs:
            try:
                edited_images.append(method.edit(loaded, seed))
            except PAIR_ERRORS as error:
                edited_images.append(error)

    for loaded, edited in zip(loaded_pairs, edited_images):
        if isinstance(edited, Exception):
            outcomes[loaded.pair.pair_id] = edited
            continue
        try:
            _save_pair(method, loaded, edited, run_dir)
            outcomes[loaded.pair.pair_id] = None
        except PAIR_ERRORS as error:
            outcomes[loaded.pair.pair_id] = error
    return [outcomes[pair.pair_id] for pair in chunk]


def _save_pair(method, loaded: LoadedPair, edited: Image.Image, run_dir: Path) -> None:
    pair = loaded.pair
    files = pair_files(run_dir, pair.pair_id)
    expected = (method.resolution, method.resolution)
    if edited.size != expected:
        raise ValueError(f"method returned a {edited.size[0]}x{edited.size[1]} image, expected {expected[0]}x{expected[1]}")

    save_image_atomic(loaded.source, files.source)
    save_image_atomic(loaded.reference, files.reference)
    save_image_atomic(_mask_image(loaded.source_mask), files.source_mask)
    save_image_atomic(_mask_image(loaded.reference_mask), files.reference_mask)
    save_image_atomic(pair_strip(loaded, edited), files.strip)
    write_text_atomic(files.record, json.dumps(pair.to_row(), indent=2))
    # A method that edits pairs in batches keeps one trace per pair; others keep the last pair's.
    trace = getattr(method, "pair_traces", {}).get(pair.pair_id, getattr(method, "trace", None))
    if trace:
        _write_trace(files.folder / "trace.csv", trace)
    # The edited image is written last: its presence marks the pair's files as complete.
    save_image_atomic(edited, files.edited)


def _mask_image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(mask.astype(np.uint8) * 255, mode="L")


def _write_trace(path: Path, trace: list) -> None:
    rows = [record.__dict__ for record in trace]
    with atomic_path(path) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs"),
        TextColumn("{task.fields[per_pair]}"),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _result_row(pair_id: str, status: str, seconds: float, error: str) -> dict:
    return {"pair_id": pair_id, "status": status, "seconds": f"{seconds:.3f}", "error": error}


def _read_results(run_dir: Path) -> dict[str, dict]:
    path = run_dir / RESULTS_CSV
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["pair_id"]: row for row in csv.DictReader(handle)}


def _write_results(run_dir: Path, results: dict[str, dict]) -> None:
    with atomic_path(run_dir / RESULTS_CSV) as temporary, temporary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULTS_COLUMNS)
        writer.writeheader()
        writer.writerows(results.values())


def _is_done(run_dir: Path, row: dict | None) -> bool:
    return row is not None and row["status"] == "done" and pair_files(run_dir, row["pair_id"]).edited.is_file()


def _read_manifest(run_dir: Path) -> dict | None:
    path = run_dir / MANIFEST
    if not path.is_file():
        return None
    return read_json_object(path, "delete the run folder or choose a new --out")


def _fingerprint(request: RunRequest, config: dict) -> dict:
    """Return what must match for a run folder to be resumed instead of refused."""
    return {
        "config": config,
        "model": request.model,
        "seed": request.seed,
        "bench": request.bench.name,
        "bench_options": {key: str(value) for key, value in sorted(request.bench_options.items())},
    }


def _manifest(request: RunRequest, config: dict, fingerprint: dict, pair_count: int, started_at: str, previous: dict | None) -> dict:
    return {
        "egobench_version": __version__,
        "method": request.preset,
        "method_impl": config["method"],
        "bench": request.bench.name,
        "bench_options": fingerprint["bench_options"],
        "config": config,
        "seed": request.seed,
        "model": request.model,
        "device": request.device,
        "pairs": pair_count,
        "limit": request.limit,
        "argv": sys.argv,
        "git_commit": _git_commit(),
        "versions": _versions(),
        "started_at": started_at,
        "first_started_at": (previous or {}).get("first_started_at", started_at),
        "finished_at": None,
        "fingerprint": fingerprint,
    }


def _versions() -> dict:
    import diffusers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "egobench": __version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def _git_commit() -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() or None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
