"""Output of a profile report: rich tables for people, JSON for machines."""

from __future__ import annotations

import dataclasses
import json

from rich.console import Console
from rich.table import Table

from egobench.profiling.session import ProfileReport


def report_json(report: ProfileReport) -> str:
    """Return the report as indented JSON."""
    return json.dumps(dataclasses.asdict(report), indent=2)


def print_report(report: ProfileReport, console: Console) -> None:
    """Print the stage table, the iteration table and the headline numbers."""
    console.print(_stage_table(report))
    console.print(_iteration_table(report))

    full = ""
    if report.full_iteration_unet_equivalents is not None:
        full = (
            f"; iterations with image energy: {report.full_iteration_unet_equivalents:.2f} "
            f"(least {report.full_iteration_least:.2f}, {report.full_iteration_least_with_reuse:.2f} with reuse)"
        )
    lines = [
        f"UNet forward, batch 1, {report.latent_size[0]}x{report.latent_size[1]} latent: {report.unet_forward_gflops:.2f} GFLOP; "
        f"prefix to up_blocks[{report.up_block}] p = {report.prefix_fraction:.3f}, its backward b = {report.prefix_backward_fraction:.3f}",
        f"UNet-equivalents per iteration: {report.unet_equivalents_per_iteration:.2f} measured, "
        f"least {report.least_per_iteration:.2f} ({report.least_with_reuse_per_iteration:.2f} with reuse){full}",
        f"seconds per iteration: {report.seconds_per_iteration:.3f} (fastest of {len(report.timed_pass_seconds)} timed passes, "
        f"{report.threads} threads); whole pair {report.pair_seconds:.2f} s; attention: {', '.join(report.attention)}",
        f"peak memory of the {'batch' if report.pairs_per_batch > 1 else 'pair'}: {report.pair_peak_mib:.0f} MiB above the loaded model, {report.process_peak_mib:.0f} MiB in all "
        f"({report.memory_measure})",
    ]
    if report.trace:
        lines.append(f"Chrome trace: {report.trace}")
    for line in lines:
        console.print(line)


def _stage_table(report: ProfileReport) -> Table:
    title = f"{report.preset} on {report.model}, {report.resolution}x{report.resolution}, {report.steps} iterations, {report.device}"
    if report.pairs_per_batch > 1:
        title += f"; per pair of a batch of {report.pairs_per_batch} (calls and peak memory: the batch's)"
    if report.reuse:
        title += "; reuse cache filled by an earlier run"
    table = Table(title=title)
    for column in ("stage", "scope", "calls", "time (s)", "share", "GFLOP", "UNet-eq", "peak (MiB)"):
        table.add_column(column, justify="left" if column in ("stage", "scope") else "right", no_wrap=column == "stage")
    for row in report.stages:
        table.add_row(
            row.stage,
            row.scope,
            str(row.calls),
            f"{row.seconds:.3f}",
            f"{row.share:.1%}",
            f"{row.flops / 1e9:.2f}",
            f"{row.unet_equivalents:.2f}",
            f"{row.peak_mib:.1f}",
        )
    return table


def _iteration_table(report: ProfileReport) -> Table:
    table = Table(title="iterations: measured against the least work (UNet-equivalents)")
    for column in ("iteration", "t", "runs", "time (s)", "GFLOP", "UNet-eq", "least", "least, reuse"):
        table.add_column(column, justify="left" if column == "runs" else "right", no_wrap=column == "runs")
    for row in report.iterations:
        table.add_row(
            str(row.index),
            str(row.timestep),
            row.mechanisms,
            f"{row.seconds:.3f}",
            f"{row.flops / 1e9:.2f}",
            f"{row.unet_equivalents:.2f}",
            f"{row.least:.2f}",
            f"{row.least_with_reuse:.2f}",
        )
    return table
