"""`egobench profile`: the time, FLOPs and memory of one EGO-Edit pair, stage by stage."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("profile")
@click.option("--method", "preset", default="ego", show_default=True, help="Preset of the ego method, from methods/.")
@click.option("--model", default="tiny", show_default=True, help="tiny, sd15-random, a local diffusers folder, or a hub id.")
@click.option("--resolution", type=click.IntRange(min=8), help="Image side in pixels (default: the model's native size).")
@click.option("--steps", default=2, show_default=True, type=click.IntRange(min=1), help="Optimisation iterations to run.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for the noise.")
@click.option("--device", default="auto", show_default=True, help="cpu, cuda, cuda:N, or auto.")
@click.option("--pairs-per-batch", default=1, show_default=True, type=click.IntRange(min=1), help="Pairs optimised together in one batch.")
@click.option("--reuse", is_flag=True, help="Turn the reuse cache on and fill it first, as a second preset with the same pair and seed would find it.")
@click.option("--repeat", default=1, show_default=True, type=click.IntRange(min=1), help="Timed passes; the fastest is reported.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for PyTorch (default: PyTorch's choice).")
@click.option("--trace", type=click.Path(dir_okay=False, path_type=Path), help="Also write a torch.profiler Chrome trace to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of tables.")
@click.option("--bench", default=None, help="Profile the first pair of this benchmark instead of a generated pair.")
@click.option("--data-root", type=click.Path(path_type=str), help="Benchmark data folder, with --bench.")
@click.option("--subjects", type=click.Path(path_type=str), help="DreamBooth subject photos, with --bench dreamedit.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a preset value, e.g. ego.image_energy.up_block=2.")
def profile(preset, model, resolution, steps, seed, device, pairs_per_batch, reuse, repeat, threads, trace, as_json, bench, data_root, subjects, overrides):
    """Run one pair and print wall time, FLOPs and peak memory per stage of an iteration."""
    import torch

    from rich.console import Console

    from egobench.profiling.report import print_report, report_json
    from egobench.profiling.session import ProfileRequest, run_profile
    from egobench.runner import resolve_device

    if threads is not None:
        torch.set_num_threads(threads)
    request = ProfileRequest(
        preset=preset,
        model=model,
        resolution=resolution,
        steps=steps,
        device=resolve_device(device),
        seed=seed,
        overrides=list(overrides),
        repeat=repeat,
        trace=trace,
        pairs_per_batch=pairs_per_batch,
        reuse=reuse,
    )
    if bench is not None:
        request.pair = _first_pair(bench, data_root, subjects, request, preset)
    report = run_profile(request)
    if as_json:
        click.echo(report_json(report))
    else:
        # The report goes to stdout, at least 100 columns wide so that stage names stay whole in a pipe.
        print_report(report, Console(width=max(100, Console().width)))


def _first_pair(bench: str, data_root, subjects, request, preset: str):
    from egobench.benches import create_bench
    from egobench.config import load_preset
    from egobench.errors import InputError

    options = {key: value for key, value in {"data_root": data_root, "subjects": subjects}.items() if value is not None}
    benchmark = create_bench(bench, **options)
    pairs = benchmark.pairs()
    if not pairs:
        raise InputError(f"benchmark {bench!r} produced no pairs from {options}; check --data-root")
    resolution = request.resolution or load_preset(preset).get("ego", {}).get("resolution")
    if resolution is None:
        raise InputError("--bench needs --resolution, so the pair can be loaded at the size the model will run")
    return benchmark.load(pairs[0], resolution)
