"""The `egobench report` and `egobench compare` commands."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from egobench.errors import ConfigError

# The commands import pandas, scipy and matplotlib only when they run, so that every other
# `egobench` command starts about a second sooner.

log = logging.getLogger(__name__)

FORMATS = ("latex", "markdown", "csv", "html")
FAIL_ON = ("worse", "change")
_SUFFIX_FORMATS = {".tex": "latex", ".md": "markdown", ".csv": "csv"}


@click.command("report")
@click.argument("runs", metavar="RUN...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="Table format, or html for a gallery folder. Default: from the --out suffix (.tex, .md, .csv, else html).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write (a folder for html, a PNG with --plot); '-' prints a table to stdout.",
)
@click.option("--label", "labels", multiple=True, help="Row label for each run, in the order of RUNS. Repeat once per run.")
@click.option("--metrics", help="Comma-separated metric columns in table order, e.g. dino,clip_i,clip_t. Default: all scored.")
@click.option("--ci", "show_ci", is_flag=True, help="Print the 95% interval of each mean.")
@click.option("--ablation", is_flag=True, help="Add a column per config setting that differs between the runs.")
@click.option(
    "--mechanism",
    "mechanisms",
    multiple=True,
    help="Ablation column for the dotted config key KEY, titled TITLE (KEY[=TITLE]); repeatable.",
)
@click.option("--caption", default="", help="Table caption, gallery title or figure title.")
@click.option("--plot", is_flag=True, help="Write a PNG of each metric against --sweep-key instead of a table.")
@click.option(
    "--sweep-key",
    help="Dotted manifest config key on the x axis, e.g. ego.content_composition.start_t. Default: a sweep's first key.",
)
def report_command(runs, output_format, out, labels, metrics, show_ci, ablation, mechanisms, caption, plot, sweep_key):
    """Write a table, an HTML gallery or a sweep plot of one or more run folders.

    A RUN may also be a metrics.csv file or an `egobench sweep` folder, which stands for its run
    folders in sweep order. With --plot, the sweep's first key is the default --sweep-key.
    """
    from egobench.report.runs import expand_sweeps, load_run
    from egobench.report.table import build_table, parse_metric_list

    paths, swept_keys = expand_sweeps(runs)
    loaded = [load_run(path) for path in paths]
    table = build_table(
        loaded,
        parse_metric_list(metrics, loaded),
        labels=labels,
        ablation=ablation,
        mechanisms=mechanisms,
        show_ci=show_ci,
        caption=caption,
    )

    if plot:
        sweep_key = sweep_key or (swept_keys[0] if swept_keys else None)
        if not sweep_key:
            raise ConfigError("--plot needs --sweep-key KEY naming the config setting on the x axis")
        from egobench.report.plot import plot_sweep

        plot_sweep(table, sweep_key, out)
        return
    if sweep_key:
        raise ConfigError("--sweep-key is only used with --plot; add --plot to draw the sweep")

    output_format = output_format or _format_from_suffix(out)
    if output_format == "html":
        if str(out) == "-":
            raise ConfigError("--format html writes a folder; give --out FOLDER instead of '-'")
        from egobench.report.gallery import write_gallery

        write_gallery(table, out)
        return

    text = _render_text(table, output_format)
    if str(out) == "-":
        click.echo(text, nl=False)
    else:
        from egobench.atomic import write_text_atomic

        write_text_atomic(out, text)
        log.info("wrote %s table %s (%d runs)", output_format, out, len(table.rows))


@click.command("compare")
@click.argument("baseline", type=click.Path(path_type=Path))
@click.argument("current", type=click.Path(path_type=Path))
@click.option(
    "--tolerance",
    "tolerance_overrides",
    multiple=True,
    help="Allowed worsening of a metric's mean, in its own units: METRIC=VALUE[,METRIC=VALUE...].",
)
@click.option(
    "--tolerances",
    "tolerance_file",
    type=click.Path(path_type=Path),
    help="YAML file of default tolerances. Default: reports/tolerances.yaml of this repository.",
)
@click.option(
    "--fail-on",
    type=click.Choice(FAIL_ON),
    default="worse",
    show_default=True,
    help="worse: exit 1 when a mean falls by more than its tolerance; change: when any pair moves by more, either way.",
)
@click.option("--metrics", help="Comma-separated metrics to compare. Default: every metric the baseline has.")
@click.option("--format", "output_format", type=click.Choice(["table", "json"]), default="table", show_default=True)
def compare_command(baseline, current, tolerance_overrides, tolerance_file, fail_on, metrics, output_format):
    """Compare CURRENT against BASELINE (run folders or metrics.csv files), pair by pair.

    Exits 0 when every metric is within tolerance, 1 when one is worse beyond it, and 2 when the
    runs cannot be compared (different pairs, a missing metric, different encoders, unreadable input).
    """
    from egobench.report.compare import compare_runs, load_tolerances
    from egobench.report.runs import load_run

    tolerances = load_tolerances(tolerance_file, tolerance_overrides)
    names = [name.strip() for name in metrics.split(",") if name.strip()] if metrics else None
    comparison = compare_runs(load_run(baseline), load_run(current), tolerances, fail_on, names)

    if output_format == "json":
        click.echo(json.dumps(comparison.to_json(), indent=2))
    elif comparison.problems:
        for problem in comparison.problems:
            click.echo(f"error: cannot compare {comparison.current} with {comparison.baseline}: {problem}", err=True)
    else:
        _print_comparison(comparison)
    click.get_current_context().exit(comparison.exit_code)


def _render_text(table, output_format: str) -> str:
    from egobench.report.csv_table import render_csv
    from egobench.report.latex import render_latex
    from egobench.report.markdown import render_markdown

    renderers = {"latex": render_latex, "markdown": render_markdown, "csv": render_csv}
    return renderers[output_format](table)


def _print_comparison(comparison) -> None:
    table = Table(title=f"{comparison.current} vs baseline {comparison.baseline} ({comparison.pairs} pairs)")
    for title in ("metric", "baseline", "current", "change", "95% CI of change", "worse pairs", "max |change|", "tolerance", "result"):
        table.add_column(title, justify="left" if title in ("metric", "result") else "right")

    for change in comparison.changes:
        interval = (
            f"[{change.change.ci_low:+.3g}, {change.change.ci_high:+.3g}]" if change.change.has_interval else "–"
        )
        result = "[red]FAIL[/red]" if change.failed else "[green]ok[/green]"
        table.add_row(
            change.metric,
            _number(change.baseline_mean),
            _number(change.current_mean),
            _number(change.change.mean, signed=True),
            interval,
            f"{change.pairs_worse}/{change.pairs}",
            _number(change.max_abs_change),
            f"{change.tolerance:g}",
            result,
        )

    stdout = Console()
    if not stdout.is_terminal:
        # CI logs and pipes have no width; rich would assume 80 columns and squeeze the table.
        stdout = Console(width=120)
    stdout.print(table)
    failed = [change.metric for change in comparison.changes if change.failed]
    if failed:
        rule = "fell by more than" if comparison.fail_on == "worse" else "moved by more than"
        stdout.print(f"[red]FAIL[/red]: {', '.join(failed)} {rule} the tolerance")
    else:
        stdout.print("[green]OK[/green]: every metric is within its tolerance")


def _number(value: float, signed: bool = False) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:+.4g}" if signed else f"{value:.4g}"


def _format_from_suffix(out: Path) -> str:
    if str(out) == "-":
        raise ConfigError("--out -: give --format latex, markdown or csv to print a table to stdout")
    if out.suffix.lower() in _SUFFIX_FORMATS:
        return _SUFFIX_FORMATS[out.suffix.lower()]
    if out.suffix:
        raise ConfigError(f"--out {out}: cannot tell the format from {out.suffix!r}; give --format")
    return "html"
