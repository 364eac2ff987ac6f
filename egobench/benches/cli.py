"""`egobench bench`: list the benchmarks and inspect their edit pairs without loading any model."""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from egobench.atomic import save_image_atomic
from egobench.benches import bench_class, command_line_options, create_bench, list_benches
from egobench.benches.base import EditPair
from egobench.benches.paths import relative_to_root
from egobench.benches.strip import pair_strip
from egobench.errors import EgobenchError, InputError
from egobench.logs import console as log_console

logger = logging.getLogger(__name__)

CSV_COLUMNS = list(EditPair.__dataclass_fields__)
CSV_COLUMNS.remove("extra")


@click.group("bench")
def bench() -> None:
    """List benchmarks and show the edit pairs they build."""


@bench.command("list")
def list_command() -> None:
    """List the registered benchmarks and the options each takes."""
    table = Table("name", "options", "description")
    for name in list_benches():
        cls = bench_class(name)
        summary = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        table.add_row(name, ", ".join(command_line_options(name)), summary)
    _stdout_console().print(table)


@bench.command("show")
@click.argument("name")
@click.option("--data-root", help="Benchmark folder, or hf:OWNER/NAME for a Hugging Face dataset.")
@click.option("--subjects", type=click.Path(file_okay=False), help="DreamBooth folder with <subject>/NN.jpg and classes.csv.")
@click.option("--pairing", help="Pairing strategy (dreamedit: swap, all, subject).")
@click.option("--manifest", type=click.Path(dir_okay=False), help="CSV or JSONL manifest of pairs (folder benchmark).")
@click.option("--seed", type=int, help="Seed of random pairings (piebench); default 0.")
@click.option("--format", "output_format", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@click.option("--limit", type=click.IntRange(min=1), help="Show only the first N pairs; the summary still counts all.")
@click.option(
    "--strips",
    type=click.Path(file_okay=False),
    help="Also write DIR/<pair_id>.png: source | mask | reference | mask, computing masks (cached in DIR/masks).",
)
@click.option("--resolution", type=click.IntRange(min=16), default=512, show_default=True, help="Strip panel size in pixels.")
def show_command(name, data_root, subjects, pairing, manifest, seed, output_format, limit, strips, resolution) -> None:
    """Print the edit pairs of benchmark NAME as a table or as CSV."""
    options = {"data_root": data_root, "subjects": subjects, "pairing": pairing, "manifest": manifest, "seed": seed}
    benchmark = create_bench(name, **{key: value for key, value in options.items() if value is not None})
    pairs = benchmark.pairs()
    listed = pairs[:limit] if limit else pairs

    if output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for pair in listed:
            writer.writerow(pair.to_row())
    else:
        roots = [root for root in (data_root, subjects, manifest and str(Path(manifest).parent)) if root]
        _stdout_console().print(_pairs_table(listed, roots))

    for line in benchmark.summary(pairs):
        log_console.print(line, markup=False, highlight=False)

    if strips:
        _write_strips(benchmark, listed, Path(strips), resolution)


def _stdout_console() -> Console:
    # Rich assumes 80 columns when stdout is a pipe or a file, which would cut pair ids; give it room.
    return Console() if sys.stdout.isatty() else Console(width=240)


def _pairs_table(pairs: list[EditPair], roots: list[str]) -> Table:
    table = Table("pair_id", "source", "reference", "classes", "target prompt")
    table.columns[0].no_wrap = True
    for pair in pairs:
        table.add_row(
            pair.pair_id,
            _display_path(pair.source_image, roots),
            _display_path(pair.reference_image, roots),
            f"{pair.source_class} → {pair.reference_class}",
            pair.target_prompt,
        )
    return table


def _display_path(path: str, roots: list[str]) -> str:
    for root in roots:
        shorter = relative_to_root(path, root)
        if shorter != path:
            return shorter
    return path


def _write_strips(benchmark, pairs: list[EditPair], folder: Path, resolution: int) -> None:
    failures = []
    columns = [TextColumn("strips"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=log_console) as progress:
        for pair in progress.track(pairs):
            try:
                loaded = benchmark.load(pair, resolution, cache_dir=folder / "masks")
            except EgobenchError as error:
                logger.error("%s", error)
                failures.append(pair.pair_id)
                continue
            save_image_atomic(pair_strip(loaded), folder / f"{pair.pair_id}.png")

    if failures:
        raise InputError(
            f"{len(failures)} of {len(pairs)} pairs could not be loaded ({', '.join(failures)}); "
            f"the other strips are in {folder}"
        )
    logger.info("wrote %d strips to %s", len(pairs), folder)
