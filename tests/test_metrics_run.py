"""`egobench run` on the tiny model followed by `egobench score`, end to end."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner

from egobench.cli import main
from egobench.run_folder import METRICS_CSV, SUMMARY_CSV
from tests.helpers import dreamedit_layout

FAST = ["--set", "ego.steps=4", "--set", "ego.schedule.t_max=700", "--set", "ego.schedule.t_min=400"]
SCORE = ["--clip-model", "tiny", "--dino-model", "tiny"]


def test_run_then_score_and_rescore(tmp_path, monkeypatch):
    # An empty torch hub cache keeps LPIPS out, so its reason is the same wherever the test runs.
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 2, "cat": 2})
    run_dir = tmp_path / "run"
    runner = CliRunner()

    edit = runner.invoke(
        main,
        [
            "run", "--method", "ego", "--bench", "dreamedit", "--model", "tiny",
            "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject",
            "--limit", "4", "--out", str(run_dir), "--device", "cpu", *FAST,
        ],
    )
    assert edit.exit_code == 0, edit.output

    first = runner.invoke(main, ["score", str(run_dir), *SCORE])
    assert first.exit_code == 0, first.output
    metrics = pd.read_csv(run_dir / METRICS_CSV)
    assert len(metrics) == 4
    assert set(metrics["method"]) == {"ego"}
    assert set(metrics["bench"]) == {"dreamedit"}
    for column in ("dino", "clip_i", "clip_t", "bg_psnr", "bg_ssim", "bg_mse"):
        assert metrics[column].notna().all(), column
    summary = pd.read_csv(run_dir / SUMMARY_CSV)
    assert summary["count"].tolist() == [4, 4, 4, 4, 4, 4, 0]

    before = {name: (run_dir / name).read_bytes() for name in (METRICS_CSV, SUMMARY_CSV)}
    second = runner.invoke(main, ["score", str(run_dir), *SCORE])
    assert second.exit_code == 0, second.output
    for name, content in before.items():
        assert (run_dir / name).read_bytes() == content, name
