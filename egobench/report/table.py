"""The table behind every report format: one row per run, one column per metric.

Renderers (LaTeX, Markdown, CSV, the gallery's header) read a `ReportTable` and only decide how
to print it, so that "best per column" and the ablation columns mean the same thing everywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from egobench.errors import ConfigError
from egobench.report.columns import METRIC_COLUMNS, MetricColumn
from egobench.report.runs import Run
from egobench.report.stats import MeanInterval

# Tables print three decimals, as the EGO-Edit paper's tables do. "Best" is decided on the printed
# value so that two rows that read the same are both bold.
DECIMALS = 3

# Config keys that name or describe the row rather than a mechanism it turns on or off.
_NAME_KEYS = {"preset", "method", "description"}


@dataclass(frozen=True)
class SettingColumn:
    """A config setting shown in the ablation layout: its dotted key in the manifest and its title."""

    key: str
    title: str


@dataclass
class ReportRow:
    """One run in the table; `settings` maps a setting key to the run's value, None where unset."""

    label: str
    run: Run
    count: int
    scores: dict[str, MeanInterval]
    settings: dict[str, object] = field(default_factory=dict)


@dataclass
class ReportTable:
    metrics: list[MetricColumn]
    rows: list[ReportRow]
    settings: list[SettingColumn] = field(default_factory=list)
    show_ci: bool = False
    caption: str = ""

    def best_rows(self, metric: str) -> set[int]:
        """Return the indices of the rows whose printed `metric` value is the best in its column."""
        printed = {}
        for index, row in enumerate(self.rows):
            value = row.scores[metric].mean
            if not math.isnan(value):
                printed[index] = round(value, DECIMALS)
        if not printed:
            return set()
        choose = max if METRIC_COLUMNS[metric].higher_is_better else min
        best = choose(printed.values())
        return {index for index, value in printed.items() if value == best}


def format_number(value: float) -> str | None:
    """Return `value` with three decimals, or None for NaN so that each format can print its own dash."""
    if value is None or math.isnan(value):
        return None
    return f"{value:.{DECIMALS}f}"


def parse_metric_list(text: str | None, runs: list[Run]) -> list[str]:
    """Return the metric names in `--metrics` order, or every metric some run has, in table order."""
    if not text:
        present = {name for run in runs for name in run.metric_names()}
        names = [name for name in METRIC_COLUMNS if name in present]
        if not names:
            paths = ", ".join(str(run.path) for run in runs)
            raise ConfigError(f"no metric values in {paths}; score the runs before making a report")
        return names

    names = [name.strip() for name in text.split(",") if name.strip()]
    for name in names:
        if name not in METRIC_COLUMNS:
            raise ConfigError(f"--metrics {name!r}: unknown metric; choose from {', '.join(METRIC_COLUMNS)}")
        if not any(run.values(name).notna().any() for run in runs):
            raise ConfigError(f"--metrics {name!r}: no run has values for it; drop it or rescore the runs")
    return names


def build_table(
    runs: list[Run],
    metrics: list[str],
    labels: list[str] | tuple[str, ...] = (),
    ablation: bool = False,
    mechanisms: list[str] | tuple[str, ...] = (),
    show_ci: bool = False,
    caption: str = "",
) -> ReportTable:
    """Build the table of `runs`, labelled by `labels` (one per run) or by their method names.

    With `ablation`, the table also gets one column per config setting that differs between the runs,
    or per `KEY[=TITLE]` in `mechanisms`, so that each row shows which mechanism it turns off.
    """
    row_labels = _row_labels(runs, labels)
    settings = _setting_columns(runs, mechanisms) if ablation or mechanisms else []

    rows = []
    for run, label in zip(runs, row_labels):
        rows.append(
            ReportRow(
                label=label,
                run=run,
                count=len(run.metrics),
                scores={name: run.summarize(name) for name in metrics},
                settings={column.key: _setting_or_none(run, column.key) for column in settings},
            )
        )
    return ReportTable([METRIC_COLUMNS[name] for name in metrics], rows, settings, show_ci, caption)


def _row_labels(runs: list[Run], labels) -> list[str]:
    if labels:
        if len(labels) != len(runs):
            raise ConfigError(f"--label given {len(labels)} times for {len(runs)} runs; give one label per run, in order")
        return list(labels)

    methods = [run.method for run in runs]
    # Runs of one preset (a sweep, an ablation over --set) would share a label, so these get their folder name too.
    return [
        f"{method} ({run.folder.name})" if methods.count(method) > 1 else method for method, run in zip(methods, runs)
    ]


def _setting_columns(runs: list[Run], mechanisms) -> list[SettingColumn]:
    if mechanisms:
        columns = []
        for text in mechanisms:
            key, _, title = text.partition("=")
            if not any(_has_setting(run, key) for run in runs):
                raise ConfigError(f"--mechanism {key!r}: no run's manifest config has this setting")
            columns.append(SettingColumn(key, title or key))
        return columns

    keys = differing_settings([run.manifest.get("config", {}) for run in runs])
    if not keys:
        raise ConfigError(
            "--ablation: the runs' manifest configs do not differ in any setting; name columns with --mechanism KEY"
        )
    return [SettingColumn(key, title) for key, title in zip(keys, _short_titles(keys))]


def differing_settings(configs: list[dict]) -> list[str]:
    """Return the dotted keys of the leaf settings that take two or more values among the configs.

    A config without the key does not count as a value, so that a baseline method with no `ego`
    section beside two EGO-Edit variants adds no column per EGO-Edit setting.
    """
    flat = [_flatten(config) for config in configs]
    keys = []
    for config in flat:
        keys.extend(key for key in config if key not in keys)
    return [
        key
        for key in keys
        if key.split(".")[0] not in _NAME_KEYS and len({repr(config[key]) for config in flat if key in config}) > 1
    ]


def _flatten(config: dict, prefix: str = "") -> dict[str, object]:
    flat = {}
    for key, value in config.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _short_titles(keys: list[str]) -> list[str]:
    # Drop a first component that every key shares (the method's section, such as "ego").
    first = {key.split(".")[0] for key in keys}
    if len(first) == 1 and all("." in key for key in keys):
        return [key.split(".", 1)[1] for key in keys]
    return list(keys)


def _has_setting(run: Run, key: str) -> bool:
    try:
        run.setting(key)
    except KeyError:
        return False
    return True


def _setting_or_none(run: Run, key: str):
    try:
        return run.setting(key)
    except KeyError:
        return None
