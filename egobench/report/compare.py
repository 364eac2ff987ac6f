"""Paired comparison of two runs over the same pairs: what changed, and whether it is worse than allowed.

Exit codes, as `egobench compare` returns them:
    0  every metric is within its tolerance
    1  some metric got worse by more than its tolerance (or, with fail_on="change", moved at all beyond it)
    2  the runs cannot be compared: different pairs, a metric missing, or different encoders
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from egobench.errors import ConfigError
from egobench.report.columns import ENCODER_COLUMNS, METRIC_COLUMNS
from egobench.report.runs import Run
from egobench.report.stats import MeanInterval, mean_interval

# The tolerances used when --tolerances is not given; metrics it does not list get a tolerance of 0.
DEFAULT_TOLERANCES = Path(__file__).resolve().parents[2] / "reports" / "tolerances.yaml"

EXIT_OK = 0
EXIT_WORSE = 1
EXIT_NOT_COMPARABLE = 2

FAIL_ON = ("worse", "change")

# Two scores this close count as equal when counting pairs that got worse, so that float noise
# from a rerun is not reported as a regression.
_EQUAL_RTOL = 1e-9
_EQUAL_ATOL = 1e-12


@dataclass
class MetricChange:
    """The change of one metric from the baseline to the current run, over the pairs both scored.

    `change` is the mean and paired 95% interval of (current - baseline), in the metric's units.
    """

    metric: str
    baseline_mean: float
    current_mean: float
    change: MeanInterval
    pairs_worse: int
    max_abs_change: float
    tolerance: float
    failed: bool

    @property
    def pairs(self) -> int:
        return self.change.count


@dataclass
class Comparison:
    baseline: str
    current: str
    fail_on: str
    pairs: int = 0
    changes: list[MetricChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.problems:
            return EXIT_NOT_COMPARABLE
        if any(change.failed for change in self.changes):
            return EXIT_WORSE
        return EXIT_OK

    @property
    def verdict(self) -> str:
        return {EXIT_OK: "ok", EXIT_WORSE: "worse", EXIT_NOT_COMPARABLE: "not comparable"}[self.exit_code]

    def to_json(self) -> dict:
        """Return a JSON-ready record of the comparison, with null in place of NaN."""
        return {
            "baseline": self.baseline,
            "current": self.current,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "fail_on": self.fail_on,
            "pairs": self.pairs,
            "problems": list(self.problems),
            "metrics": [
                {
                    "metric": change.metric,
                    "baseline_mean": _json_number(change.baseline_mean),
                    "current_mean": _json_number(change.current_mean),
                    "mean_change": _json_number(change.change.mean),
                    "ci_low": _json_number(change.change.ci_low),
                    "ci_high": _json_number(change.change.ci_high),
                    "pairs": change.pairs,
                    "pairs_worse": change.pairs_worse,
                    "max_abs_change": _json_number(change.max_abs_change),
                    "tolerance": change.tolerance,
                    "higher_is_better": METRIC_COLUMNS[change.metric].higher_is_better,
                    "failed": change.failed,
                }
                for change in self.changes
            ],
        }


def compare_runs(
    baseline: Run,
    current: Run,
    tolerances: dict[str, float],
    fail_on: str = "worse",
    metrics: list[str] | None = None,
) -> Comparison:
    """Compare `current` against `baseline`, pair by pair, for `metrics` (default: every metric the baseline has).

    With fail_on="worse", a metric fails when its mean change is worse than -tolerance in the
    metric's better direction. With fail_on="change", it fails when any single pair moved by more
    than the tolerance either way, which is the check for a baseline that must be reproduced.
    """
    if fail_on not in FAIL_ON:
        raise ConfigError(f"--fail-on {fail_on!r}: choose one of {', '.join(FAIL_ON)}")
    comparison = Comparison(str(baseline.path), str(current.path), fail_on)

    comparison.problems += _pair_problems(baseline, current)
    comparison.problems += _encoder_problems(baseline, current)
    names = metrics if metrics else baseline.metric_names()
    if not names:
        comparison.problems.append(f"{baseline.path}: no metric has values; score the baseline run first")
    comparison.problems += _metric_problems(baseline, current, names)
    if comparison.problems:
        return comparison

    comparison.pairs = len(baseline.pair_ids)
    for name in names:
        comparison.changes.append(_metric_change(baseline, current, name, tolerances.get(name, 0.0), fail_on))
    return comparison


def _pair_problems(baseline: Run, current: Run) -> list[str]:
    only_baseline = sorted(set(baseline.pair_ids) - set(current.pair_ids))
    only_current = sorted(set(current.pair_ids) - set(baseline.pair_ids))
    problems = []
    if only_baseline:
        problems.append(f"{len(only_baseline)} pairs only in the baseline: {_some(only_baseline)}")
    if only_current:
        problems.append(f"{len(only_current)} pairs only in the current run: {_some(only_current)}")
    return problems


def _encoder_problems(baseline: Run, current: Run) -> list[str]:
    # Scores from different CLIP or DINO encoders are on different scales, so a change would mean nothing.
    problems = []
    for column in ENCODER_COLUMNS:
        if column not in baseline.metrics.columns or column not in current.metrics.columns:
            continue
        before = set(baseline.metrics[column]) - {""}
        after = set(current.metrics[column]) - {""}
        if before and after and before != after:
            problems.append(f"{column} differs: baseline {_some(sorted(before))}, current {_some(sorted(after))}")
    return problems


def _metric_problems(baseline: Run, current: Run, names: list[str]) -> list[str]:
    problems = []
    for name in names:
        if name not in METRIC_COLUMNS:
            problems.append(f"{name}: not a metric; choose from {', '.join(METRIC_COLUMNS)}")
            continue
        before = baseline.values(name)
        if not before.notna().any():
            problems.append(f"{name}: no values in the baseline {baseline.path}")
            continue
        after = current.values(name).reindex(before.index)
        lost = before.index[before.notna() & after.isna()]
        if len(lost):
            problems.append(f"{name}: missing in the current run for {len(lost)} pairs the baseline scored: {_some(list(lost))}")
    return problems


def _metric_change(baseline: Run, current: Run, name: str, tolerance: float, fail_on: str) -> MetricChange:
    before = baseline.values(name)
    after = current.values(name).reindex(before.index)
    scored = before.notna() & after.notna()
    before_values = before[scored].to_numpy()
    after_values = after[scored].to_numpy()
    difference = after_values - before_values

    # Positive means better, whichever way the metric points.
    sign = 1.0 if METRIC_COLUMNS[name].higher_is_better else -1.0
    equal = np.isclose(after_values, before_values, rtol=_EQUAL_RTOL, atol=_EQUAL_ATOL)
    pairs_worse = int(np.sum((sign * difference < 0) & ~equal))

    change = mean_interval(difference)
    max_abs_change = float(np.max(np.abs(difference))) if difference.size else math.nan
    if fail_on == "change":
        failed = max_abs_change > tolerance
    else:
        failed = sign * change.mean < -tolerance
    return MetricChange(
        metric=name,
        baseline_mean=float(before_values.mean()),
        current_mean=float(after_values.mean()),
        change=change,
        pairs_worse=pairs_worse,
        max_abs_change=max_abs_change,
        tolerance=tolerance,
        failed=bool(failed),
    )


def load_tolerances(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, float]:
    """Read metric tolerances from a YAML mapping, then apply `metric=value,metric=value` overrides.

    A missing default file means every metric gets a tolerance of 0; a missing file that was
    asked for raises ConfigError.
    """
    tolerances: dict[str, float] = {}
    source = Path(path) if path is not None else DEFAULT_TOLERANCES
    if source.is_file():
        try:
            data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise ConfigError(f"{source}: invalid YAML ({error}); fix the file") from error
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of metric name to tolerance, such as 'dino: 0.02'")
        for name, value in data.items():
            tolerances[str(name)] = _tolerance(str(name), value, str(source))
    elif path is not None:
        raise ConfigError(f"--tolerances {source}: file not found")

    for text in overrides:
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, separator, value = item.partition("=")
            if not separator:
                raise ConfigError(f"--tolerance {item!r}: expected METRIC=VALUE, for example dino=0.02")
            tolerances[name.strip()] = _tolerance(name.strip(), value.strip(), "--tolerance")
    return tolerances


def _tolerance(name: str, value, origin: str) -> float:
    if name not in METRIC_COLUMNS:
        raise ConfigError(f"{origin}: {name!r} is not a metric; choose from {', '.join(METRIC_COLUMNS)}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{origin}: tolerance of {name} is {value!r}, not a number") from None
    if not number >= 0:
        raise ConfigError(f"{origin}: tolerance of {name} is {value!r}; it must be zero or more")
    return number


def _some(items: list[str], limit: int = 5) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def _json_number(value: float) -> float | None:
    return None if math.isnan(value) else float(value)
