"""Score a run folder: every finished pair, batch by batch, into metrics.csv and summary.csv.

The steps: read the run's labels, finished pairs and prompts. Load the encoders that the selected
metrics need, so that missing weights stop the command before any work. Then, for each batch of
pairs, read their images, compute every metric and keep only the numbers, so at most one batch of
images is in memory at a time. Both CSV files are written atomically at the end.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from egobench.atomic import atomic_path
from egobench.errors import ConfigError, InputError
from egobench.logs import console
from egobench.metrics import METRIC_COLUMNS, Missing, metric_class, parse_metric_names
from egobench.metrics.base import Metric
from egobench.metrics.clip_encoder import load_clip
from egobench.metrics.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    DEFAULT_DINO_MODEL,
    DEFAULT_METRICS,
)
from egobench.metrics.dino_encoder import load_dino
from egobench.metrics.run_inputs import (
    finished_pair_ids,
    load_pair,
    read_manifest,
    read_results,
    run_labels,
    target_prompts,
)
from egobench.metrics.similarity import ClipImageScore, ClipTextScore, DinoScore
from egobench.metrics.summary import summarize
from egobench.run_folder import METRICS_CSV, SUMMARY_CSV

logger = logging.getLogger(__name__)

METRICS_CSV_COLUMNS = ["pair_id", "method", "bench", *METRIC_COLUMNS, "clip_model", "dino_model", "reason"]


def metrics_csv_columns(names: tuple[str, ...]) -> list[str]:
    """Return the metrics.csv header: the fixed columns plus any selected metric registered outside them."""
    extra = [name for name in names if name not in METRIC_COLUMNS]
    position = METRICS_CSV_COLUMNS.index("clip_model")
    return METRICS_CSV_COLUMNS[:position] + extra + METRICS_CSV_COLUMNS[position:]

# Ten significant digits keep rescoring byte-identical while showing far more precision than any metric has.
FLOAT_FORMAT = "%.10g"


def score_run(
    run_dir: str | Path,
    metrics: str | tuple[str, ...] | list[str] = DEFAULT_METRICS,
    device: str | torch.device = "cpu",
    edited_dir: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    clip_model: str = DEFAULT_CLIP_MODEL,
    clip_pretrained: str | None = DEFAULT_CLIP_PRETRAINED,
    dino_model: str = DEFAULT_DINO_MODEL,
    dino_checkpoint: str | Path | None = None,
    *,
    method: str | None = None,
    bench: str | None = None,
    prompts: str | Path | None = None,
    out_dir: str | Path | None = None,
    show_progress: bool = True,
) -> pd.DataFrame:
    """Score every pair with status `done` in RUN/results.csv and write metrics.csv and summary.csv.

    Args:
        run_dir: the run folder (see `egobench.run_folder`). Without results.csv every folder under
            `pairs/` is scored; without manifest.json, `method` and `bench` are required.
        metrics: names or groups, as a comma-separated string or a sequence (`dino,clip_i,clip_t,bg`).
        edited_dir: a folder of edited images named `<pair_id>.png` to score instead of the run's own.
        batch_size: pairs read and encoded together.
        clip_model, clip_pretrained: open_clip model name and tag or checkpoint file, or `tiny`.
        dino_model, dino_checkpoint: DINO alias or timm name and optional checkpoint file, or `tiny`.
        method, bench: labels for metrics.csv, overriding the manifest's.
        prompts: a CSV with columns pair_id, target_prompt, overriding the run's prompts for CLIP-T.
        out_dir: where to write the two CSV files; defaults to `run_dir`.
        show_progress: draw a progress bar; turn it off when a caller already shows one.

    Returns:
        The metrics.csv table, one row per scored pair. A value that could not be computed is NaN
        (an empty cell in the file) and its reason is in the `reason` column.

    Raises:
        InputError: the run folder, the edited folder or the labels are missing or unreadable.
        ConfigError: an unknown metric, encoder or device, or a batch size below 1.
        ModelNotFoundError: encoder weights are neither local nor downloadable.
    """
    run_dir = Path(run_dir)
    out_dir = Path(out_dir) if out_dir is not None else run_dir
    names = parse_metric_names(metrics)
    if not names:
        raise ConfigError("no metrics selected; pass --metrics with at least one of dino, clip_i, clip_t, bg")
    if batch_size < 1:
        raise ConfigError(f"batch size {batch_size} is invalid; pass a positive integer to --batch-size")
    if not run_dir.is_dir():
        raise InputError(f"{run_dir}: run folder not found; pass the --out folder of egobench run")
    if edited_dir is not None:
        edited_dir = Path(edited_dir)
        if not edited_dir.is_dir():
            raise InputError(f"{edited_dir}: folder of edited images not found; pass a folder holding <pair_id>.png")

    method, bench = run_labels(run_dir, read_manifest(run_dir), method, bench)
    results = read_results(run_dir)
    pair_ids = finished_pair_ids(run_dir, results)
    pair_prompts = target_prompts(run_dir, pair_ids, results, prompts) if "clip_t" in names else {}
    device = resolve_device(device)
    scorers = build_metrics(
        names,
        device=device,
        clip_model=clip_model,
        clip_pretrained=clip_pretrained,
        dino_model=dino_model,
        dino_checkpoint=dino_checkpoint,
    )
    encoder_labels = _encoder_labels(scorers)

    rows = []
    with _progress(show_progress) as progress:
        task = progress.add_task(f"scoring {run_dir.name}", total=len(pair_ids))
        for start in range(0, len(pair_ids), batch_size):
            batch_ids = pair_ids[start : start + batch_size]
            pairs = [load_pair(run_dir, pair_id, edited_dir, pair_prompts.get(pair_id)) for pair_id in batch_ids]
            values = {name: scorer(pairs) for name, scorer in scorers.items()}
            for index, pair in enumerate(pairs):
                row_values = {name: values[name][index] for name in names}
                rows.append(_metrics_row(pair.pair_id, method, bench, row_values, encoder_labels))
            progress.advance(task, len(pairs))

    table = pd.DataFrame(rows, columns=metrics_csv_columns(names))
    summary = summarize(table, names)
    write_csv_atomic(table, out_dir / METRICS_CSV)
    write_csv_atomic(summary, out_dir / SUMMARY_CSV)
    logger.info("scored %d pairs of %s (%s); wrote %s and %s", len(table), run_dir, ", ".join(names), METRICS_CSV, SUMMARY_CSV)
    return table


def build_metrics(
    names: tuple[str, ...],
    *,
    device: torch.device,
    clip_model: str,
    clip_pretrained: str | None,
    dino_model: str,
    dino_checkpoint: str | Path | None,
) -> dict[str, Metric]:
    """Create the named metrics, loading each encoder once and only if a selected metric needs it."""
    clip = None
    dino = None
    if {"clip_i", "clip_t"} & set(names):
        clip = load_clip(clip_model, clip_pretrained, device)
    if "dino" in names:
        dino = load_dino(dino_model, str(dino_checkpoint) if dino_checkpoint else None, device)

    scorers: dict[str, Metric] = {}
    for name in names:
        cls = metric_class(name)
        if issubclass(cls, DinoScore):
            scorers[name] = cls(dino)
        elif issubclass(cls, (ClipImageScore, ClipTextScore)):
            scorers[name] = cls(clip)
        else:
            scorers[name] = cls(device=device)
    return scorers


def resolve_device(device: str | torch.device) -> torch.device:
    """Parse a device name and check that torch can use it here."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ConfigError(f"invalid device {device!r}; pass cpu, cuda or cuda:N") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device} requested but CUDA is not available here; pass --device cpu")
    return device


def write_csv_atomic(table: pd.DataFrame, path: Path) -> None:
    """Write a table as CSV with empty cells for NaN, so that readers never see a half-written file."""
    with atomic_path(path) as temporary:
        table.to_csv(temporary, index=False, float_format=FLOAT_FORMAT, na_rep="")


def _encoder_labels(scorers: dict[str, Metric]) -> dict[str, str | None]:
    labels = {"clip_model": None, "dino_model": None}
    for name, scorer in scorers.items():
        if name in ("clip_i", "clip_t"):
            labels["clip_model"] = scorer.describe()
        elif name == "dino":
            labels["dino_model"] = scorer.describe()
    return labels


def _metrics_row(pair_id: str, method: str, bench: str, values: dict, encoder_labels: dict) -> dict:
    row = {"pair_id": pair_id, "method": method, "bench": bench, **encoder_labels}
    reasons: dict[str, list[str]] = {}
    for name, value in values.items():
        if isinstance(value, Missing):
            row[name] = float("nan")
            reasons.setdefault(_one_line(value.reason), []).append(name)
        else:
            row[name] = value
    # Metrics that failed for the same reason share one entry: "dino, clip_i: <reason>".
    row["reason"] = "; ".join(f"{', '.join(metric_names)}: {reason}" for reason, metric_names in reasons.items())
    return row


def _one_line(reason: str) -> str:
    """Keep a reason on one line without the `; ` that separates reasons in the CSV cell."""
    return " ".join(reason.split()).replace("; ", ", ")


def _progress(show: bool) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not show,
    )
