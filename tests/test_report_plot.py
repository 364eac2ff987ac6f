"""`egobench report --plot`: a metric against a swept config setting."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main
from egobench.errors import ConfigError
from egobench.report.plot import sweep_points
from egobench.report.runs import expand_sweeps, load_run
from egobench.report.table import build_table
from egobench.report.testing import write_run


def _sweep_runs(tmp_path, starts=(30, 10, 20)):
    runs = []
    for start in starts:
        config = {"method": "ego", "preset": "ego", "ego": {"content_composition": {"start": start}, "steps": 4}}
        scores = {f"p{index}": {"dino": 0.4 + start / 100 + 0.01 * index, "clip_t": 0.3 - start / 1000} for index in range(4)}
        runs.append(write_run(tmp_path / f"start{start}", "ego", scores, config=config, images=False))
    return runs


def test_sweep_points_sorted_by_setting(tmp_path):
    runs = [load_run(path) for path in _sweep_runs(tmp_path)]
    table = build_table(runs, ["dino"])

    groups = sweep_points(table, "ego.content_composition.start")

    assert list(groups) == ["ego"]
    assert [value for value, _ in groups["ego"]] == [10, 20, 30]
    assert [table.rows[index].run.folder.name for _, index in groups["ego"]] == ["start10", "start20", "start30"]


def test_sweep_key_missing_names_run(tmp_path):
    runs = [load_run(path) for path in _sweep_runs(tmp_path)]

    with pytest.raises(ConfigError, match=r"ego\.nothing: not set in .*start30"):
        sweep_points(build_table(runs, ["dino"]), "ego.nothing")
    with pytest.raises(ConfigError, match="is a section"):
        sweep_points(build_table(runs, ["dino"]), "ego.content_composition")


def test_cli_writes_plot_png(tmp_path):
    runs = _sweep_runs(tmp_path)
    out = tmp_path / "figures" / "start.png"

    result = CliRunner().invoke(
        main,
        [
            "report", *map(str, runs), "--plot", "--sweep-key", "ego.content_composition.start",
            "--metrics", "dino,clip_t", "--ci", "--out", str(out),
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
        width, height = image.size
        pixels = np.asarray(image.convert("L"))
    # Two panels side by side, so the figure is wider than tall, and something is drawn on it.
    assert width > 1.5 * height
    assert (pixels < 128).mean() > 0.005


def test_cli_plot_needs_sweep_key(tmp_path):
    runs = _sweep_runs(tmp_path)

    without_key = CliRunner().invoke(main, ["report", *map(str, runs), "--plot", "--out", str(tmp_path / "p.png")])
    key_without_plot = CliRunner().invoke(
        main, ["report", *map(str, runs), "--sweep-key", "ego.steps", "--out", str(tmp_path / "t.md")]
    )

    assert without_key.exit_code == 2
    assert "--plot needs --sweep-key" in without_key.output
    assert key_without_plot.exit_code == 2
    assert not (tmp_path / "p.png").exists()


def _grid_sweep(tmp_path):
    """Write an `egobench sweep` folder over start_t x interval, with sweep.json listing its runs."""
    sweep = tmp_path / "sweep"
    runs = []
    for start in (400, 600):
        for interval in (1, 2):
            folder = f"ego.content_composition.start_t={start},ego.content_composition.interval={interval}"
            config = {"method": "ego", "ego": {"content_composition": {"start_t": start, "interval": interval}}}
            scores = {"p0": {"dino": start / 1000 + interval / 100}, "p1": {"dino": start / 1000}}
            write_run(sweep / folder, "ego", scores, config=config, images=False)
            runs.append({"folder": folder, "values": {"ego.content_composition.start_t": str(start)}})
    keys = ["ego.content_composition.start_t", "ego.content_composition.interval"]
    (sweep / "sweep.json").write_text(json.dumps({"method": "ego", "keys": keys, "runs": runs}))
    return sweep


def test_sweep_folder_expands_to_runs(tmp_path):
    sweep = _grid_sweep(tmp_path)

    paths, keys = expand_sweeps([sweep])

    assert [path.name for path in paths] == [
        "ego.content_composition.start_t=400,ego.content_composition.interval=1",
        "ego.content_composition.start_t=400,ego.content_composition.interval=2",
        "ego.content_composition.start_t=600,ego.content_composition.interval=1",
        "ego.content_composition.start_t=600,ego.content_composition.interval=2",
    ]
    assert keys == ["ego.content_composition.start_t", "ego.content_composition.interval"]


def test_grid_sweep_draws_line_per_value(tmp_path):
    paths, _ = expand_sweeps([_grid_sweep(tmp_path)])
    table = build_table([load_run(path) for path in paths], ["dino"])

    groups = sweep_points(table, "ego.content_composition.start_t")

    assert list(groups) == ["ego, ego.content_composition.interval=1", "ego, ego.content_composition.interval=2"]
    assert [value for value, _ in groups["ego, ego.content_composition.interval=2"]] == [400, 600]


def test_cli_plots_sweep_folder(tmp_path):
    sweep = _grid_sweep(tmp_path)
    out = sweep / "sweep.png"

    result = CliRunner().invoke(main, ["report", str(sweep), "--plot", "--out", str(out)])

    assert result.exit_code == 0, result.output
    with Image.open(out) as image:
        assert image.format == "PNG"
