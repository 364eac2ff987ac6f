"""Command-line options shared by `egobench run` and `egobench sweep`: which pairs, which model, where."""

from __future__ import annotations

import click


def benchmark_options(command):
    """Add --bench, --data-root, --subjects, --pairing, --manifest, --model, --limit, --seed and --device."""
    options = [
        click.option("--bench", default="dreamedit", show_default=True, help="Benchmark name (see `egobench bench list`)."),
        click.option("--data-root", type=click.Path(path_type=str), help="Benchmark data folder."),
        click.option("--subjects", type=click.Path(path_type=str), help="DreamBooth dataset folder: classes.csv for the prompts, and the reference photos for --pairing subject."),
        click.option("--pairing", help="Pairing strategy of the benchmark."),
        click.option("--manifest", "pairs_manifest", type=click.Path(path_type=str), help="CSV/JSONL pair manifest for --bench folder."),
        click.option("--model", default=None, help="Hub id, local diffusers folder, or `tiny` (default: the preset's model)."),
        click.option("--limit", type=click.IntRange(min=1), help="Edit only the first N pairs."),
        click.option("--seed", default=0, show_default=True, type=int, help="Seed for noise and random pairings."),
        click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def bench_options(data_root, subjects, pairing, manifest, seed) -> dict:
    """Return the keyword arguments for `create_bench` that the user set."""
    options = {"data_root": data_root, "subjects": subjects, "pairing": pairing, "manifest": manifest}
    options = {key: value for key, value in options.items() if value is not None}
    # Every benchmark takes the seed: random pairings such as PIE-Bench's depend on it.
    options["seed"] = seed
    return options


def explicit_options(ctx: click.Context) -> set[str]:
    """Return the parameter names the user set on the command line (not defaults)."""
    return {name for name in ctx.params if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE}
