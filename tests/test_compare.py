"""`egobench compare`: paired changes, tolerances and the exit codes CI reads."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from egobench.cli import main
from egobench.errors import ConfigError
from egobench.metrics.summary import bootstrap_interval
from egobench.report import cli as report_cli
from egobench.report.columns import METRIC_COLUMNS
from egobench.report.compare import DEFAULT_TOLERANCES, FAIL_ON, compare_runs, load_tolerances
from egobench.report.runs import load_run
from egobench.report.testing import write_run

SCORES = {
    f"pair{index}": {"dino": 0.5 + 0.01 * index, "clip_t": 0.28 + 0.002 * index, "bg_lpips": 0.1 + 0.01 * index}
    for index in range(6)
}


@pytest.fixture
def run(tmp_path) -> Path:
    return write_run(tmp_path / "run", "ego", SCORES, images=False)


def _edited_copy(run: Path, folder: Path, edit) -> Path:
    """Copy the run's metrics.csv into `folder`, applying `edit(row)` to each row."""
    with (run / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        edit(row)
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "metrics.csv"
    with copy.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return copy


def _shift(metric: str, amount: float):
    def edit(row):
        row[metric] = repr(float(row[metric]) + amount)

    return edit


def _compare(*arguments: str):
    return CliRunner().invoke(main, ["compare", *arguments])


def test_run_against_itself_exits_0(run):
    result = _compare(str(run), str(run))

    assert result.exit_code == 0, result.output
    assert "OK: every metric is within its tolerance" in result.output
    assert "0/6" in result.output


def test_lowered_metric_exits_1(run, tmp_path):
    lowered = _edited_copy(run, tmp_path / "lowered", _shift("dino", -0.6))

    result = _compare(str(run), str(lowered), "--tolerance", "dino=0.5,clip_t=0.2")

    assert result.exit_code == 1, result.output
    assert "FAIL: dino fell by more than the tolerance" in result.output
    assert "6/6" in result.output


def test_lowered_within_tolerance_exits_0(run, tmp_path):
    lowered = _edited_copy(run, tmp_path / "lowered", _shift("dino", -0.4))

    result = _compare(str(run), str(lowered), "--tolerance", "dino=0.5")

    assert result.exit_code == 0, result.output


def test_improvement_never_fails(run, tmp_path):
    raised = _edited_copy(run, tmp_path / "raised", _shift("dino", 0.3))

    result = _compare(str(run), str(raised), "--tolerance", "dino=0")

    assert result.exit_code == 0, result.output


def test_lower_is_better_metric_direction(run, tmp_path):
    raised = _edited_copy(run, tmp_path / "raised", _shift("bg_lpips", 0.05))
    lowered = _edited_copy(run, tmp_path / "lowered", _shift("bg_lpips", -0.05))

    assert _compare(str(run), str(raised), "--tolerance", "bg_lpips=0.01").exit_code == 1
    assert _compare(str(run), str(lowered), "--tolerance", "bg_lpips=0.01").exit_code == 0


def test_different_pairs_exit_2(run, tmp_path):
    other = write_run(tmp_path / "other", "ego", {**SCORES, "extra": SCORES["pair0"]}, images=False)

    result = _compare(str(run), str(other))

    assert result.exit_code == 2
    assert "1 pairs only in the current run: extra" in result.output


def test_missing_metric_exits_2(run, tmp_path):
    def drop_clip_t(row):
        row["clip_t"] = ""

    unscored = _edited_copy(run, tmp_path / "unscored", drop_clip_t)

    result = _compare(str(run), str(unscored))

    assert result.exit_code == 2
    assert "clip_t: missing in the current run for 6 pairs" in result.output


def test_different_encoders_exit_2(run, tmp_path):
    def other_encoder(row):
        row["clip_model"] = "ViT-L-14"

    rescored = _edited_copy(run, tmp_path / "rescored", other_encoder)

    result = _compare(str(run), str(rescored))

    assert result.exit_code == 2
    assert "clip_model differs" in result.output


def test_unreadable_input_exits_2(run, tmp_path):
    result = _compare(str(run), str(tmp_path / "missing"))

    assert result.exit_code == 2
    assert "missing: not found" in result.output


def test_json_output(run, tmp_path):
    lowered = _edited_copy(run, tmp_path / "lowered", _shift("clip_t", -0.01))

    result = _compare(str(run), str(lowered), "--format", "json", "--tolerance", "clip_t=0.005")
    record = json.loads(result.output)
    clip_t = next(metric for metric in record["metrics"] if metric["metric"] == "clip_t")

    assert result.exit_code == 1
    assert record["verdict"] == "worse"
    assert record["exit_code"] == 1
    assert record["pairs"] == 6
    assert clip_t["mean_change"] == pytest.approx(-0.01)
    assert clip_t["pairs_worse"] == 6
    assert clip_t["failed"] is True
    assert clip_t["tolerance"] == 0.005
    assert [metric["metric"] for metric in record["metrics"]] == ["dino", "clip_t", "bg_lpips"]


def test_json_when_not_comparable(run, tmp_path):
    other = write_run(tmp_path / "other", "ego", {"pair0": SCORES["pair0"]}, images=False)

    result = _compare(str(run), str(other), "--format", "json")
    record = json.loads(result.output)

    assert result.exit_code == 2
    assert record["verdict"] == "not comparable"
    assert record["metrics"] == []
    assert "5 pairs only in the baseline" in record["problems"][0]


def test_paired_interval(run, tmp_path):
    rng = np.random.default_rng(0)
    noise = iter(rng.normal(-0.02, 0.01, size=6))

    def noisy(row):
        row["dino"] = repr(float(row["dino"]) + float(next(noise)))

    current = _edited_copy(run, tmp_path / "noisy", noisy)
    comparison = compare_runs(load_run(run), load_run(current), {"dino": 0.1})
    dino = comparison.changes[0]
    differences = load_run(current).values("dino") - load_run(run).values("dino")

    assert dino.change.mean == pytest.approx(differences.mean())
    assert dino.change.ci_low < dino.change.mean < dino.change.ci_high
    assert (dino.change.ci_low, dino.change.ci_high) == pytest.approx(bootstrap_interval(differences.to_numpy()))
    assert dino.pairs_worse == int((differences < 0).sum())
    assert comparison.exit_code == 0


def test_fail_on_change_catches_shuffled_pairs(run, tmp_path):
    values = [SCORES[pair]["dino"] for pair in SCORES]
    shuffled = iter(values[::-1])

    def reverse(row):
        row["dino"] = repr(next(shuffled))

    current = _edited_copy(run, tmp_path / "shuffled", reverse)

    # The mean is unchanged, so only a per-pair check detects that the outputs moved.
    assert _compare(str(run), str(current), "--tolerance", "dino=0.001").exit_code == 0
    result = _compare(str(run), str(current), "--tolerance", "dino=0.001", "--fail-on", "change")
    assert result.exit_code == 1
    assert "moved by more than the tolerance" in result.output


def test_metrics_option_limits_comparison(run, tmp_path):
    lowered = _edited_copy(run, tmp_path / "lowered", _shift("dino", -0.6))

    assert _compare(str(run), str(lowered), "--metrics", "clip_t").exit_code == 0
    assert _compare(str(run), str(lowered), "--metrics", "clip_t,dino").exit_code == 1


def test_default_tolerances_file_is_valid():
    tolerances = load_tolerances()
    listed = yaml.safe_load(DEFAULT_TOLERANCES.read_text())

    assert set(listed) == set(METRIC_COLUMNS)
    assert tolerances == {name: float(value) for name, value in listed.items()}


def test_tolerance_overrides_and_errors(tmp_path):
    custom = tmp_path / "tolerances.yaml"
    custom.write_text("dino: 0.2\nclip_t: 0.1\n")

    assert load_tolerances(custom, ["dino=0.5", "clip_i=0.3,bg_mse=0"]) == {
        "dino": 0.5,
        "clip_t": 0.1,
        "clip_i": 0.3,
        "bg_mse": 0.0,
    }
    with pytest.raises(ConfigError, match="'fid' is not a metric"):
        load_tolerances(custom, ["fid=1"])
    with pytest.raises(ConfigError, match="not a number"):
        load_tolerances(custom, ["dino=lots"])
    with pytest.raises(ConfigError, match="zero or more"):
        load_tolerances(custom, ["dino=-1"])
    with pytest.raises(ConfigError, match="expected METRIC=VALUE"):
        load_tolerances(custom, ["dino"])
    with pytest.raises(ConfigError, match="file not found"):
        load_tolerances(tmp_path / "absent.yaml")


def test_cli_tolerance_error_exits_2(run):
    result = _compare(str(run), str(run), "--tolerance", "dino=-1")

    assert result.exit_code == 2
    assert "error: --tolerance: tolerance of dino" in result.output


def test_cli_and_library_agree_on_fail_modes():
    assert report_cli.FAIL_ON == FAIL_ON


def test_compare_accepts_metrics_files(run, tmp_path):
    copy = tmp_path / "copy" / "metrics.csv"
    copy.parent.mkdir()
    shutil.copyfile(run / "metrics.csv", copy)

    result = _compare(str(run / "metrics.csv"), str(copy))

    assert result.exit_code == 0, result.output
