"""The CI regression smoke check: rerun the tiny smoke benchmark and compare it with the committed baseline.

When `test_smoke_run_matches_baseline` fails after an intended change to the method or the metrics,
refresh the baseline with `python scripts/refresh_smoke_baseline.py` and commit it with the change.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main
from egobench.config import load_preset
from egobench.report.smoke import SMOKE_BASELINE, SMOKE_FIXTURE, classes_csv, fixture_files
from egobench.report.table import differing_settings

REPO_ROOT = SMOKE_FIXTURE.parents[1]


def _smoke_run(run_dir, *overrides: str) -> None:
    sets = [argument for override in overrides for argument in ("--set", override)]
    environment = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    completed = subprocess.run(
        [sys.executable, "-m", "egobench.report.smoke", str(run_dir), *sets],
        cwd=REPO_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def _compare_with_baseline(run_dir):
    return CliRunner().invoke(
        main,
        [
            "compare", str(SMOKE_BASELINE), str(run_dir), "--fail-on", "change",
            "--tolerances", str(SMOKE_BASELINE / "tolerances.yaml"), "--format", "json",
        ],
    )  # fmt: skip


def test_fixture_matches_its_generator():
    committed = sorted(
        str(path.relative_to(SMOKE_FIXTURE)) for path in SMOKE_FIXTURE.rglob("*.png")
    )

    assert committed == sorted(fixture_files())
    for relative, image in fixture_files().items():
        with Image.open(SMOKE_FIXTURE / relative) as stored:
            assert np.array_equal(np.asarray(stored.convert("RGB")), np.asarray(image)), relative
    assert (SMOKE_FIXTURE / "subjects" / "classes.csv").read_text() == classes_csv()


def test_fixture_stays_small():
    total = sum(path.stat().st_size for path in SMOKE_FIXTURE.rglob("*") if path.is_file())

    assert total < 8 * 1024


def test_baseline_records_defaults():
    manifest = json.loads((SMOKE_BASELINE / "manifest.json").read_text())
    with (SMOKE_BASELINE / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))

    assert manifest["method"] == "ego"
    assert manifest["model"] == "tiny"
    assert "argv" not in manifest
    assert [row["pair_id"] for row in rows] == ["blue_box-found0-00", "red_ball-found0-00", "red_ball-found1-00"]
    for row in rows:
        for metric in ("dino", "clip_i", "clip_t", "bg_psnr", "bg_ssim", "bg_mse"):
            assert row[metric] != "", (row["pair_id"], metric)


def test_baseline_config_is_current_preset():
    # A quick check before the slow rerun: any edit of methods/ego.yaml shows up here by key.
    recorded = json.loads((SMOKE_BASELINE / "manifest.json").read_text())["config"]
    current = load_preset("ego")
    changed = differing_settings([recorded, current])

    assert changed == [], f"methods/ego.yaml changed at {changed}; refresh with scripts/refresh_smoke_baseline.py"
    assert recorded == current


@pytest.mark.slow
def test_smoke_run_matches_baseline(tmp_path):
    _smoke_run(tmp_path / "run")

    result = _compare_with_baseline(tmp_path / "run")
    record = json.loads(result.output)

    assert record["problems"] == []
    assert [metric["metric"] for metric in record["metrics"] if metric["failed"]] == []
    assert result.exit_code == 0


@pytest.mark.slow
def test_smoke_check_catches_changed_defaults(tmp_path):
    # Fewer optimisation steps stand for any change of the preset's defaults; they also keep the test short.
    _smoke_run(tmp_path / "run", "ego.steps=10")

    result = _compare_with_baseline(tmp_path / "run")
    record = json.loads(result.output)

    assert record["problems"] == []
    assert result.exit_code == 1
    assert {"bg_psnr", "bg_ssim"} <= {metric["metric"] for metric in record["metrics"] if metric["failed"]}
