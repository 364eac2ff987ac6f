"""`egobench sweep`: the grid of swept values and one run folder per value."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from egobench.cli import main
from egobench.errors import ConfigError
from egobench.sweep import sweep_points
from tests.helpers import dreamedit_layout


def test_single_key_sweeps_each_value():
    points = sweep_points(["ego.content_composition.start_t=400,500,600", "ego.steps=4"])

    assert [point.label for point in points] == [f"ego.content_composition.start_t={value}" for value in (400, 500, 600)]
    assert points[0].overrides == ["ego.steps=4", "ego.content_composition.start_t=400"]
    assert points[2].values == {"ego.content_composition.start_t": "600"}


def test_two_keys_form_grid():
    points = sweep_points(["ego.steps=2,4", "ego.schedule.kind=descending,random"])

    assert len(points) == 4
    assert points[1].label == "ego.steps=2,ego.schedule.kind=random"
    assert points[3].overrides == ["ego.steps=4", "ego.schedule.kind=random"]


def test_quoted_value_keeps_commas():
    points = sweep_points(['ego.text_energy.negative_prompt="blurry, dark"', "ego.steps=2,4"])

    assert len(points) == 2
    assert points[0].overrides[0] == 'ego.text_energy.negative_prompt="blurry, dark"'


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["ego.steps=4"], "nothing to sweep"),
        (["ego.steps=2,,4"], "empty value in the list"),
        (["ego.steps"], "expected KEY.PATH=VALUE"),
        (["ego.steps=2,4", "ego.steps=6,8"], "swept twice"),
    ],
)
def test_invalid_sweep_rejected(overrides, message):
    with pytest.raises(ConfigError, match=message):
        sweep_points(overrides)


def test_sweep_writes_folder_per_value(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 2})
    out = tmp_path / "sweep"
    arguments = ["sweep", "--method", "paste", "--data-root", str(data_root), "--subjects", str(subjects)]
    arguments += ["--out", str(out), "--device", "cpu", "--set", "paste.feather=0,0.01,0.05", "--set", "paste.resolution=64"]
    arguments += ["--clip-model", "tiny", "--dino-model", "tiny", "--metrics", "dino,clip_i"]

    result = CliRunner().invoke(main, arguments, catch_exceptions=False)

    assert result.exit_code == 0, result.output
    record = json.loads((out / "sweep.json").read_text())
    assert record["keys"] == ["paste.feather"]
    assert [run["folder"] for run in record["runs"]] == ["paste.feather=0", "paste.feather=0.01", "paste.feather=0.05"]
    for value in (0, 0.01, 0.05):
        run_dir = out / f"paste.feather={value}"
        manifest = json.loads((run_dir / "manifest.json").read_text())
        assert manifest["config"]["paste"]["feather"] == value
        assert manifest["config"]["paste"]["resolution"] == 64
        with (run_dir / "results.csv").open() as handle:
            assert [row["status"] for row in csv.DictReader(handle)] == ["done", "done"]
        with (run_dir / "metrics.csv").open() as handle:
            assert len(list(csv.DictReader(handle))) == 2


def test_sweep_checks_keys_before_running(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    out = tmp_path / "sweep"
    arguments = ["sweep", "--method", "paste", "--data-root", str(data_root), "--subjects", str(subjects)]
    arguments += ["--out", str(out), "--set", "paste.feather=0,0.01", "--set", "paste.no_such_key=1"]

    result = CliRunner().invoke(main, arguments)

    assert result.exit_code != 0
    assert "unknown setting 'no_such_key'" in result.output
    assert not out.exists()
