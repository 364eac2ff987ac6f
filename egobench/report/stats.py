"""Means with 95% confidence intervals, for one run and for paired differences between two runs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MeanInterval:
    """A sample mean with its standard deviation and confidence interval.

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


def mean_interval(values, confidence: float = CONFIDENCE) -> MeanInterval:
    """Return the mean of the finite `values` with Student's t interval for it.

    The t interval assumes the per-pair scores are independent draws; with the few dozen pairs of
    a benchmark it is wider, and more honest, than a normal interval.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    count = int(values.size)
    if count == 0:
        return MeanInterval(math.nan, math.nan, math.nan, math.nan, 0)
    mean = float(values.mean())
    if count == 1:
        return MeanInterval(mean, math.nan, math.nan, math.nan, 1)

    std = float(values.std(ddof=1))
    half_width = float(stats.t.ppf(0.5 + confidence / 2, df=count - 1)) * std / math.sqrt(count)
    return MeanInterval(mean, std, mean - half_width, mean + half_width, count)
