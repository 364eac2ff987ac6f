"""summary.csv: mean, standard deviation and bootstrap interval per metric."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from egobench.metrics import parse_metric_names
from egobench.errors import ConfigError
from egobench.metrics.summary import SUMMARY_COLUMNS, summarize


def test_summary_statistics():
    values = np.random.default_rng(0).normal(50, 5, 200)
    table = pd.DataFrame({"dino": values})

    row = summarize(table, ["dino"]).iloc[0]
    assert row["metric"] == "dino"
    assert row["count"] == 200
    assert row["mean"] == pytest.approx(values.mean())
    assert row["std"] == pytest.approx(values.std(ddof=1))
    assert row["ci_low"] < row["mean"] < row["ci_high"]
    # The bootstrap interval of a mean is close to the normal one, mean +- 1.96 standard errors.
    half_width = 1.96 * values.std(ddof=1) / math.sqrt(len(values))
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * half_width, rel=0.15)


def test_summary_is_reproducible():
    table = pd.DataFrame({"clip_t": np.random.default_rng(1).normal(30, 2, 40)})
    pd.testing.assert_frame_equal(summarize(table, ["clip_t"]), summarize(table, ["clip_t"]))


def test_summary_skips_empty_cells():
    table = pd.DataFrame({"dino": [10.0, np.nan, 20.0], "clip_i": [np.nan, np.nan, np.nan], "clip_t": [np.nan, 7.0, np.nan]})
    summary = summarize(table, ["dino", "clip_i", "clip_t"]).set_index("metric")

    assert list(summary.reset_index().columns) == SUMMARY_COLUMNS
    assert summary.loc["dino", "count"] == 2
    assert summary.loc["dino", "mean"] == 15.0
    assert summary.loc["clip_i", "count"] == 0
    assert np.isnan(summary.loc["clip_i", "mean"])
    assert summary.loc["clip_t", "mean"] == 7.0
    assert np.isnan(summary.loc["clip_t", "std"])
    assert np.isnan(summary.loc["clip_t", "ci_low"])


def test_constant_values_have_a_point_interval():
    row = summarize(pd.DataFrame({"bg_psnr": [100.0] * 5}), ["bg_psnr"]).iloc[0]
    assert row["ci_low"] == row["ci_high"] == 100.0
    assert row["std"] == 0.0


def test_metric_selection():
    assert parse_metric_names("dino,clip_i,clip_t,bg") == (
        "dino", "clip_i", "clip_t", "bg_psnr", "bg_ssim", "bg_mse", "bg_lpips",
    )
    assert parse_metric_names("bg_psnr, dino") == ("dino", "bg_psnr")
    assert parse_metric_names("none") == ()
    with pytest.raises(ConfigError, match="unknown metric 'fid'"):
        parse_metric_names("dino,fid")
