"""`egobench score RUN`, and the scoring options that `egobench run` shares with it."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from egobench.metrics import parse_metric_names
from egobench.metrics.defaults import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    DEFAULT_DINO_MODEL,
    DEFAULT_METRICS,
)

logger = logging.getLogger(__name__)

# Parameter names that `scoring_options` adds and `score_run` takes under the same names.
SCORING_PARAMETERS = ("metrics", "clip_model", "clip_pretrained", "dino_model", "dino_checkpoint", "batch_size")


def _parse_metrics(ctx, param, value: str) -> tuple[str, ...]:
    return parse_metric_names(value)


def scoring_options(command):
    """Add --metrics, --clip-model, --clip-pretrained, --dino-model, --dino-checkpoint and --batch-size.

    The parameters arrive under the names in `SCORING_PARAMETERS`; `scoring_kwargs` picks them out
    for `score_run`. `--metrics none` parses to an empty tuple, which means "do not score".
    """
    options = [
        click.option(
            "--metrics",
            default=DEFAULT_METRICS,
            show_default=True,
            callback=_parse_metrics,
            help="Comma-separated metrics to compute: dino, clip_i, clip_t, bg (bg_psnr, bg_ssim, bg_mse, "
            "bg_lpips) or single bg_* names; `none` skips scoring.",
        ),
        click.option(
            "--clip-model",
            default=DEFAULT_CLIP_MODEL,
            show_default=True,
            help="open_clip model name for CLIP-I and CLIP-T, or `tiny` for a small randomly initialised CLIP.",
        ),
        click.option(
            "--clip-pretrained",
            default=DEFAULT_CLIP_PRETRAINED,
            show_default=True,
            help="open_clip pretrained tag or a local checkpoint file for --clip-model. "
            "For OpenAI weights in a file, name the model ViT-B-32-quickgelu.",
        ),
        click.option(
            "--dino-model",
            default=DEFAULT_DINO_MODEL,
            show_default=True,
            help="DINO model: dino_vits16, dino_vits8, dino_vitb16, dino_vitb8, a timm model name, "
            "or `tiny` for a small randomly initialised ViT.",
        ),
        click.option(
            "--dino-checkpoint",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Local checkpoint file for --dino-model (a timm state dict or DINO's *_pretrain.pth) "
            "instead of the hub download.",
        ),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=DEFAULT_BATCH_SIZE,
            show_default=True,
            help="Pairs read and encoded together; memory grows with it.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def scoring_kwargs(params: dict) -> dict:
    """Return the `score_run` keyword arguments among a command's parameters."""
    return {name: params[name] for name in SCORING_PARAMETERS if name in params}


@click.command("score")
@click.argument("run_dir", metavar="RUN", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--edited",
    "edited_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of edited images named <pair_id>.png (or .jpg, .jpeg, .webp) to score instead of RUN's own, "
    "for example the outputs of another tool.",
)
@scoring_options
@click.option("--device", default=None, help="Torch device for the encoders [default: the run's device, else cpu].")
@click.option("--method", default=None, help="Method name for metrics.csv [default: manifest.json's].")
@click.option("--bench", default=None, help="Benchmark name for metrics.csv [default: manifest.json's].")
@click.option(
    "--prompts",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV with columns pair_id,target_prompt giving the prompts for CLIP-T.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for metrics.csv and summary.csv [default: RUN]. Use it with --edited to keep RUN's own scores.",
)
@click.pass_context
def score(ctx, run_dir: Path, edited_dir, device, method, bench, prompts, out_dir, **params) -> None:
    """Score the finished pairs of the run folder RUN into metrics.csv and summary.csv.

    Rescoring replaces both files. A folder made by another tool needs pairs/<pair_id>/ with
    source.png, reference.png, source_mask.png and reference_mask.png (plus edited.png, or
    --edited); without manifest.json pass --method and --bench, and without results.csv every
    folder under pairs/ is scored. A run made with `--model tiny` is scored with the tiny encoders
    unless --clip-model or --dino-model is given, as `egobench run` does.
    """
    from egobench.errors import ConfigError
    from egobench.metrics.run_inputs import read_manifest
    from egobench.metrics.scoring import score_run
    from egobench.run_options import explicit_options
    from egobench.runner import scoring_for_model

    if not params["metrics"]:
        raise ConfigError("--metrics none leaves nothing to score; pass at least one of dino, clip_i, clip_t, bg")
    manifest = read_manifest(run_dir) if run_dir.is_dir() else None
    if device is None:
        device = _run_device(manifest)
    params = scoring_for_model(scoring_kwargs(params), (manifest or {}).get("model"), explicit_options(ctx))

    score_run(
        run_dir,
        device=device,
        edited_dir=edited_dir,
        method=method,
        bench=bench,
        prompts=prompts,
        out_dir=out_dir,
        **params,
    )


def _run_device(manifest: dict | None) -> str:
    """Return the device recorded in the manifest when torch can use it here, else cpu."""
    import torch

    recorded = str((manifest or {}).get("device") or "cpu")
    if recorded.startswith("cuda") and not torch.cuda.is_available():
        logger.info("the run used %s, which is not available here; scoring on cpu", recorded)
        return "cpu"
    return recorded
