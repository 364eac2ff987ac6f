"""Sweep figures: a metric's mean against a setting that differs between runs, as in an ablation figure."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # Files only: no display is needed, and none exists in CI.
import matplotlib.pyplot as plt  # noqa: E402

from egobench.atomic import atomic_path  # noqa: E402
from egobench.errors import ConfigError  # noqa: E402
from egobench.report.table import ReportTable, differing_settings  # noqa: E402

log = logging.getLogger(__name__)


def sweep_points(table: ReportTable, sweep_key: str) -> dict[str, list[tuple[object, int]]]:
    """Group the table's rows into lines and return, per line, (setting value, row index) sorted by value.

    A line is one method with one value of every other setting that differs between the runs, so
    a grid sweep over two settings draws one line per value of the second.
    Raises ConfigError naming the run when its manifest config lacks `sweep_key`.
    """
    configs = [row.run.manifest.get("config", {}) for row in table.rows]
    other_keys = [key for key in differing_settings(configs) if key != sweep_key]

    groups: dict[str, list[tuple[object, int]]] = {}
    for index, row in enumerate(table.rows):
        try:
            value = row.run.setting(sweep_key)
        except KeyError:
            raise ConfigError(
                f"--sweep-key {sweep_key}: not set in {row.run.folder}'s manifest config; "
                f"name a dotted key of the config, such as ego.steps"
            ) from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"--sweep-key {sweep_key}: is a section in {row.run.folder}, not a single setting")
        others = [f"{key}={_setting(row, key)}" for key in other_keys]
        line = ", ".join([row.run.method, *others])
        groups.setdefault(line, []).append((value, index))

    numeric = all(_is_number(value) for points in groups.values() for value, _ in points)
    for points in groups.values():
        points.sort(key=lambda point: point[0] if numeric else str(point[0]))
    return groups


def plot_sweep(table: ReportTable, sweep_key: str, out: str | Path) -> Path:
    """Draw one panel per metric of the table, its mean against `sweep_key`, one line per method, into a PNG.

    With the table's `show_ci`, each point gets its 95% interval as an error bar.
    """
    out = Path(out)
    groups = sweep_points(table, sweep_key)
    numeric = all(_is_number(value) for points in groups.values() for value, _ in points)
    categories = sorted({str(value) for points in groups.values() for value, _ in points})

    panels = len(table.metrics)
    figure, axes = plt.subplots(1, panels, figsize=(3.6 * panels, 3.2), squeeze=False, layout="constrained")
    for axis, metric in zip(axes[0], table.metrics):
        for method, points in groups.items():
            xs = [value if numeric else categories.index(str(value)) for value, _ in points]
            scores = [table.rows[index].scores[metric.name] for _, index in points]
            means = [score.mean for score in scores]
            errors = None
            if table.show_ci:
                errors = [
                    [_gap(score.mean, score.ci_low) for score in scores],
                    [_gap(score.ci_high, score.mean) for score in scores],
                ]
            axis.errorbar(xs, means, yerr=errors, marker="o", capsize=3, label=method)

        arrow = "↑" if metric.higher_is_better else "↓"
        axis.set_title(f"{metric.title} {arrow}")
        axis.set_xlabel(sweep_key)
        axis.grid(alpha=0.3)
        if not numeric:
            axis.set_xticks(range(len(categories)), categories)
    if len(groups) > 1:
        axes[0][0].legend(fontsize="small")
    if table.caption:
        figure.suptitle(table.caption)

    with atomic_path(out) as temporary:
        figure.savefig(temporary, format="png", dpi=150)
    plt.close(figure)
    log.info("wrote plot %s (%d runs, %d metrics)", out, len(table.rows), panels)
    return out


def _setting(row, key: str):
    try:
        return row.run.setting(key)
    except KeyError:
        return None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _gap(high: float, low: float) -> float:
    # Matplotlib cannot draw a NaN error bar; a point without an interval gets none.
    difference = high - low
    return 0.0 if math.isnan(difference) else difference
