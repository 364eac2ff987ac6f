"""The `egobench` command line."""

from __future__ import annotations

import sys

import click

from egobench import __version__
from egobench.errors import EgobenchError
from egobench.logs import setup_logging
from egobench.listing import list_group
from egobench.metrics.cli import scoring_kwargs, scoring_options
from egobench.models.paths import check_model_path
from egobench.run_options import bench_options, benchmark_options, explicit_options
from egobench.sweep import sweep_command


class _Group(click.Group):
    """Turns an `EgobenchError` into one line on stderr and its exit code, without a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except EgobenchError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(error.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="egobench")
@click.option("-v", "--verbose", count=True, help="Show debug log lines.")
def main(verbose: int) -> None:
    """Run, measure and compare personalized image editing methods."""
    setup_logging(verbose)


@main.command()
@click.option("--method", "methods", default="ego", show_default=True, help="Method preset(s) from methods/, comma-separated.")
@benchmark_options
@click.option("--ip-adapter", default=None, help="IP-Adapter weights for ego: hub id, local folder or state-dict file.")
@click.option("--out", required=True, type=click.Path(path_type=str), help="Run folder (one sub-folder per method when several are given).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a preset value, e.g. ego.steps=20.")
@click.option("--pairs-per-batch", type=click.IntRange(min=1), help="Pairs ego optimises together in one batch (sets ego.runtime.pairs_per_batch).")
@scoring_options
@click.pass_context
def run(ctx, methods, bench, data_root, subjects, pairing, pairs_manifest, model, ip_adapter, limit, seed, out, device, overrides, pairs_per_batch, **scoring_params):
    """Edit every pair of a benchmark, write a run folder per method, and score it."""
    from pathlib import Path

    from egobench.benches import create_bench
    from egobench.runner import RunRequest, check_scoring, resolve_device, run_preset, scoring_for_model

    presets = [name.strip() for name in methods.split(",") if name.strip()]
    overrides = list(overrides)
    if ip_adapter:
        overrides.append(f"ego.ip_adapter.path={ip_adapter}")
    if pairs_per_batch is not None:
        overrides.append(f"ego.runtime.pairs_per_batch={pairs_per_batch}")
    options = bench_options(data_root, subjects, pairing, pairs_manifest, seed)
    benchmark = create_bench(bench, **options)
    device = resolve_device(device)
    routed = route_overrides(presets, overrides)
    if model is not None:
        check_model_path(model)
    scoring = scoring_for_model(scoring_kwargs(scoring_params), model, explicit_options(ctx))
    check_scoring(scoring, device)

    failures = []
    for preset in presets:
        run_dir = Path(out) if len(presets) == 1 else Path(out) / preset
        preset_overrides = routed[preset]
        request = RunRequest(preset, benchmark, options, run_dir, model, seed, limit, device, preset_overrides, scoring)
        outcome = run_preset(request)
        failures += [f"{preset}/{pair_id}: {message}" for pair_id, message in outcome.errors.items()]
    if failures:
        click.echo(f"error: {len(failures)} pair(s) failed, first: {failures[0]}; see results.csv in the run folder", err=True)
        sys.exit(1)


def route_overrides(presets: list[str], overrides: list[str]) -> dict[str, list[str]]:
    """Give each preset the `--set` overrides whose top-level section it has.

    With `--method ego,pbe --set ego.steps=20`, only the ego run gets the override. An override that
    no preset can take is an error rather than silently ignored.
    """
    from egobench.config import load_preset
    from egobench.errors import ConfigError

    sections = {preset: set(load_preset(preset)) for preset in presets}
    routed: dict[str, list[str]] = {preset: [] for preset in presets}
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, for example ego.steps=20")
        section = override.split("=", 1)[0].split(".", 1)[0].strip()
        takers = [preset for preset in presets if section in sections[preset]]
        if not takers:
            raise ConfigError(f"--set {override}: none of the presets {', '.join(presets)} has a section {section!r}")
        for preset in takers:
            routed[preset].append(override)
    return routed


from egobench.benches.cli import bench  # noqa: E402

main.add_command(bench)
main.add_command(list_group)
main.add_command(sweep_command)

from egobench.metrics.cli import score  # noqa: E402

main.add_command(score)

from egobench.report.cli import compare_command, report_command  # noqa: E402

main.add_command(report_command)
main.add_command(compare_command)

from egobench.profiling.cli import profile  # noqa: E402

main.add_command(profile)
