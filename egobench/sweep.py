"""`egobench sweep`: one run folder per value of a setting, for ablation curves.

`--set ego.content_composition.start_t=400,500,600` runs the preset three times, into
`OUT/ego.content_composition.start_t=400` and so on. Several swept settings form a grid, one folder
per combination. `OUT/sweep.json` records the swept keys and the folders, and
`egobench report OUT/*/ --plot --sweep-key KEY` draws the curve.
"""

from __future__ import annotations

import itertools
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from egobench.metrics.cli import scoring_kwargs, scoring_options
from egobench.run_options import bench_options, benchmark_options, explicit_options
from egobench.atomic import write_text_atomic
from egobench.config import load_preset
from egobench.errors import ConfigError

logger = logging.getLogger(__name__)

SWEEP_FILE = "sweep.json"
# A value that starts like a quoted YAML string or a YAML list or mapping is one value, commas included.
_YAML_OPENERS = ("'", '"', "[", "{")


@dataclass(frozen=True)
class SweepPoint:
    """One combination of swept values: its run folder's name and the overrides that make it."""

    label: str
    values: dict[str, str]
    overrides: list[str]


def sweep_points(overrides: list[str] | tuple[str, ...]) -> list[SweepPoint]:
    """Split `KEY=V1,V2,...` overrides into the grid of combinations they span.

    An override with one value applies to every point. Raises `ConfigError` when nothing has two
    or more values, or when a swept value is empty.
    """
    fixed: list[str] = []
    swept: list[tuple[str, list[str]]] = []
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE or KEY.PATH=V1,V2,...")
        key, raw = (part.strip() for part in override.split("=", 1))
        values = [raw] if raw.startswith(_YAML_OPENERS) else [value.strip() for value in raw.split(",")]
        if len(values) == 1:
            fixed.append(f"{key}={raw}")
            continue
        if any(value == "" for value in values):
            raise ConfigError(f"--set {override!r}: empty value in the list; write KEY=V1,V2,V3")
        if key in (name for name, _ in swept):
            raise ConfigError(f"--set {key}: swept twice; give all its values in one --set")
        swept.append((key, values))

    if not swept:
        raise ConfigError("nothing to sweep: give at least one --set KEY=V1,V2,... with two or more values")

    points = []
    for combination in itertools.product(*(values for _, values in swept)):
        values = {key: value for (key, _), value in zip(swept, combination)}
        label = ",".join(f"{key}={value}" for key, value in values.items())
        points.append(SweepPoint(label, values, fixed + [f"{key}={value}" for key, value in values.items()]))
    return points


@click.command("sweep")
@click.option("--method", "preset", default="ego", show_default=True, help="Method preset from methods/ to sweep.")
@benchmark_options
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Folder that receives one run folder per value.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=V1,V2,...",
    help="Setting to sweep over comma-separated values (or to fix, with one value); repeatable.",
)
@scoring_options
@click.pass_context
def sweep_command(ctx, preset, bench, data_root, subjects, pairing, pairs_manifest, model, limit, seed, out, device, overrides, **scoring_params):
    """Run one method preset once per value of the swept settings, one run folder per value, and score each."""
    from egobench.benches import create_bench
    from egobench.runner import RunRequest, check_scoring, resolve_device, run_preset, scoring_for_model

    points = sweep_points(overrides)
    # Every point's overrides are checked before the first run starts, so a typo costs no compute.
    for point in points:
        load_preset(preset, point.overrides)

    options = bench_options(data_root, subjects, pairing, pairs_manifest, seed)
    benchmark = create_bench(bench, **options)
    device = resolve_device(device)
    scoring = scoring_for_model(scoring_kwargs(scoring_params), model, explicit_options(ctx))
    check_scoring(scoring, device)
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "method": preset,
        "keys": list(points[0].values),
        "runs": [{"folder": point.label, "values": point.values} for point in points],
    }
    write_text_atomic(out / SWEEP_FILE, json.dumps(record, indent=2) + "\n")

    failures = []
    for index, point in enumerate(points, start=1):
        logger.info("sweep %d/%d: %s", index, len(points), point.label)
        request = RunRequest(preset, benchmark, options, out / point.label, model, seed, limit, device, point.overrides, scoring)
        outcome = run_preset(request)
        failures += [f"{point.label}/{pair_id}: {message}" for pair_id, message in outcome.errors.items()]

    keys = " ".join(f"--sweep-key {key}" for key in record["keys"][:1])
    logger.info("sweep done; plot it with: egobench report %s/*/ --plot %s --out %s", out, keys, out / "sweep.png")
    if failures:
        click.echo(f"error: {len(failures)} pair(s) failed, first: {failures[0]}; see results.csv in the run folder", err=True)
        sys.exit(1)
