"""Means with 95% confidence intervals, for one run and for paired differences between two runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from egobench.metrics.summary import bootstrap_interval


@dataclass(frozen=True)
class MeanInterval:
    """A sample mean with its standard deviation and 95% confidence interval.

    `std` and the interval are NaN when fewer than two values exist, and every field but `count`
    is NaN when there are none.
    """

    mean: float
    std: float
    ci_low: float
    ci_high: float
    count: int

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.ci_low) or math.isnan(self.ci_high))


def mean_interval(values) -> MeanInterval:
    """Return the mean of the finite `values` with the 95% percentile-bootstrap interval of it.

    The interval is the one `egobench score` writes into summary.csv (10,000 resamples, seed 0), so
    a table recomputed from metrics.csv prints the same numbers as one read from summary.csv.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    count = int(values.size)
    if count == 0:
        return MeanInterval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(values.mean())
    if count == 1:
        return MeanInterval(mean, math.nan, math.nan, math.nan, 1)

    ci_low, ci_high = bootstrap_interval(values)
    return MeanInterval(mean, float(values.std(ddof=1)), ci_low, ci_high, count)
