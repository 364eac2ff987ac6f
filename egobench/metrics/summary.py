"""Per-metric summary of a run: mean, standard deviation and a 95% bootstrap interval of the mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import bootstrap

SUMMARY_COLUMNS = ["metric", "mean", "std", "ci_low", "ci_high", "count"]
CONFIDENCE = 0.95
RESAMPLES = 10_000
# A fixed seed makes summary.csv identical whenever metrics.csv is.
BOOTSTRAP_SEED = 0


def summarize(metrics: pd.DataFrame, columns: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """Return one row per metric column over the pairs that have a value.

    `std` is the sample standard deviation (ddof 1). The interval is the percentile bootstrap of
    the mean, 10,000 resamples with seed 0. Empty cells are left out; with fewer than two values
    `std` and the interval are empty, and with none `mean` is empty as well.
    """
    rows = []
    for column in columns:
        values = pd.to_numeric(metrics[column], errors="coerce").dropna().to_numpy(dtype=np.float64)
        row = {"metric": column, "mean": np.nan, "std": np.nan, "ci_low": np.nan, "ci_high": np.nan, "count": len(values)}
        if len(values) >= 1:
            row["mean"] = float(values.mean())
        if len(values) >= 2:
            row["std"] = float(values.std(ddof=1))
            row["ci_low"], row["ci_high"] = bootstrap_interval(values)
        rows.append(row)
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def bootstrap_interval(values: np.ndarray) -> tuple[float, float]:
    """Return the 95% percentile-bootstrap interval of the mean of `values`."""
    if np.all(values == values[0]):
        # Every resample has the same mean, so the interval is that value; scipy would warn here.
        return float(values[0]), float(values[0])
    result = bootstrap(
        (values,),
        np.mean,
        n_resamples=RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        vectorized=True,
        batch=1_000,
        rng=np.random.default_rng(BOOTSTRAP_SEED),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)
