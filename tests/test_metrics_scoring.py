"""Scoring a run folder into metrics.csv and summary.csv, through `score_run` and `egobench score`."""

from __future__ import annotations

import json
import shutil

import numpy as np
import open_clip
import pandas as pd
import pytest
from click.testing import CliRunner

from egobench.cli import main
from egobench.errors import InputError, ModelNotFoundError
from egobench.metrics.scoring import METRICS_CSV_COLUMNS, score_run
from egobench.metrics.summary import SUMMARY_COLUMNS
from egobench.metrics.testing import make_run_folder
from egobench.run_folder import MANIFEST, METRICS_CSV, RESULTS_CSV, SUMMARY_CSV, pair_files

TINY = {"clip_model": "tiny", "dino_model": "tiny"}
ENCODER_METRICS = ("dino", "clip_i", "clip_t")
BACKGROUND_METRICS = ("bg_psnr", "bg_ssim", "bg_mse")
# An empty torch hub cache makes LPIPS unavailable wherever the tests run.
EMPTY_TORCH_HOME = "/nonexistent/egobench-test-torch-home"


@pytest.fixture(scope="module")
def scored_run(tmp_path_factory):
    """A synthetic run with 4 finished pairs and 1 failed one, scored once with every metric."""
    run_dir = tmp_path_factory.mktemp("run")
    pair_ids = make_run_folder(run_dir, pair_count=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TORCH_HOME", str(EMPTY_TORCH_HOME))
        table = score_run(run_dir, show_progress=False, **TINY)
    return run_dir, pair_ids, table


def test_metrics_csv_rows_and_columns(scored_run):
    run_dir, pair_ids, table = scored_run
    metrics = pd.read_csv(run_dir / METRICS_CSV)

    assert list(metrics.columns) == METRICS_CSV_COLUMNS
    assert metrics["pair_id"].tolist() == pair_ids
    assert set(metrics["method"]) == {"synthetic-method"}
    assert set(metrics["bench"]) == {"synthetic-bench"}
    assert set(metrics["clip_model"]) == {"tiny-random-clip"}
    assert set(metrics["dino_model"]) == {"tiny-random-dino"}
    for column in ENCODER_METRICS + BACKGROUND_METRICS:
        assert metrics[column].notna().all(), column
    np.testing.assert_allclose(metrics["dino"], table["dino"], rtol=1e-9)


def test_unchanged_background_at_cap(scored_run):
    run_dir, _, _ = scored_run
    metrics = pd.read_csv(run_dir / METRICS_CSV).set_index("pair_id")
    # The synthetic edits leave the background of even-numbered pairs untouched.
    assert metrics.loc["pair-000", "bg_psnr"] == 100.0
    assert metrics.loc["pair-000", "bg_mse"] == 0.0
    assert metrics.loc["pair-001", "bg_psnr"] < 100.0


def test_lpips_missing_gives_reason(scored_run):
    run_dir, _, _ = scored_run
    metrics = pd.read_csv(run_dir / METRICS_CSV, keep_default_na=False)
    assert metrics["bg_lpips"].tolist() == [""] * 4
    for reason in metrics["reason"]:
        assert reason.startswith("bg_lpips: LPIPS AlexNet weights not found")


def test_summary_csv(scored_run):
    run_dir, _, table = scored_run
    summary = pd.read_csv(run_dir / SUMMARY_CSV).set_index("metric")

    assert list(summary.reset_index().columns) == SUMMARY_COLUMNS
    assert list(summary.index) == list(ENCODER_METRICS + BACKGROUND_METRICS) + ["bg_lpips"]
    for column in ENCODER_METRICS + BACKGROUND_METRICS:
        assert summary.loc[column, "count"] == 4
        assert summary.loc[column, "mean"] == pytest.approx(table[column].mean())
        assert summary.loc[column, "ci_low"] <= summary.loc[column, "mean"] <= summary.loc[column, "ci_high"]


def test_rescoring_is_identical(scored_run, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", EMPTY_TORCH_HOME)
    run_dir, _, _ = scored_run
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    before = {name: (copy / name).read_bytes() for name in (METRICS_CSV, SUMMARY_CSV)}

    score_run(copy, show_progress=False, **TINY)
    for name, content in before.items():
        assert (copy / name).read_bytes() == content, name


def test_batch_size_keeps_scores(scored_run, tmp_path):
    run_dir, _, table = scored_run
    one_by_one = score_run(run_dir, batch_size=1, out_dir=tmp_path, show_progress=False, **TINY)
    for column in ENCODER_METRICS + BACKGROUND_METRICS:
        np.testing.assert_allclose(one_by_one[column], table[column], atol=1e-4, err_msg=column)


def test_edited_folder_of_another_tool(scored_run, tmp_path):
    run_dir, pair_ids, table = scored_run
    edited_dir = tmp_path / "other-tool"
    edited_dir.mkdir()
    for pair_id in pair_ids[:3]:
        shutil.copy(pair_files(run_dir, pair_id).edited, edited_dir / f"{pair_id}.png")
    out_dir = tmp_path / "scores"

    scores = score_run(
        run_dir, edited_dir=edited_dir, method="other-tool", out_dir=out_dir, metrics="dino,bg", show_progress=False, **TINY
    )
    assert scores["method"].tolist() == ["other-tool"] * 4
    np.testing.assert_allclose(scores["dino"][:3], table["dino"][:3], atol=1e-6)
    assert np.isnan(scores.loc[3, "dino"])
    assert np.isnan(scores.loc[3, "bg_psnr"])
    assert f"{pair_ids[3]}.png: image not found" in scores.loc[3, "reason"]
    assert (out_dir / METRICS_CSV).is_file()
    # The run's own scores stay as they were.
    assert pd.read_csv(run_dir / METRICS_CSV)["method"].eq("synthetic-method").all()


def test_selected_metrics_only(tmp_path):
    make_run_folder(tmp_path, pair_count=2, failed=0)
    table = score_run(tmp_path, metrics="bg", show_progress=False)

    assert table[list(ENCODER_METRICS)].isna().all().all()
    assert table["clip_model"].isna().all()
    assert table["dino_model"].isna().all()
    summary = pd.read_csv(tmp_path / SUMMARY_CSV)
    assert summary["metric"].tolist() == ["bg_psnr", "bg_ssim", "bg_mse", "bg_lpips"]


def test_folder_without_manifest(tmp_path):
    pair_ids = make_run_folder(tmp_path, pair_count=2, failed=0)
    (tmp_path / MANIFEST).unlink()
    (tmp_path / RESULTS_CSV).unlink()

    with pytest.raises(InputError, match="--method"):
        score_run(tmp_path, metrics="bg", show_progress=False)
    table = score_run(tmp_path, metrics="bg", method="external", bench="mine", show_progress=False)
    assert table["pair_id"].tolist() == pair_ids
    assert table["bench"].tolist() == ["mine", "mine"]


def test_prompts_file_and_missing_prompt(tmp_path):
    pair_ids = make_run_folder(tmp_path, pair_count=2, failed=0)
    (pair_files(tmp_path, pair_ids[1]).folder / "pair.json").unlink()

    table = score_run(tmp_path, metrics="clip_t", show_progress=False, **TINY)
    assert not np.isnan(table.loc[0, "clip_t"])
    assert np.isnan(table.loc[1, "clip_t"])
    assert table.loc[1, "reason"].startswith("clip_t: no target prompt")

    prompts = tmp_path / "prompts.csv"
    pd.DataFrame({"pair_id": pair_ids, "target_prompt": ["a dog", "a cat"]}).to_csv(prompts, index=False)
    with_prompts = score_run(tmp_path, metrics="clip_t", prompts=prompts, show_progress=False, **TINY)
    assert with_prompts["clip_t"].notna().all()
    assert with_prompts.loc[0, "clip_t"] != table.loc[0, "clip_t"]


def test_unreadable_mask_is_a_reason(tmp_path):
    pair_ids = make_run_folder(tmp_path, pair_count=2, failed=0)
    pair_files(tmp_path, pair_ids[0]).reference_mask.write_bytes(b"not a png")

    table = score_run(tmp_path, metrics="dino,bg_mse", show_progress=False, **TINY)
    assert np.isnan(table.loc[0, "dino"])
    assert "reference_mask.png" in table.loc[0, "reason"]
    assert table.loc[0, "bg_mse"] >= 0.0
    assert table["dino"].notna().tolist() == [False, True]


def test_failed_scoring_keeps_files(tmp_path, monkeypatch):
    make_run_folder(tmp_path, pair_count=2, failed=0)
    score_run(tmp_path, metrics="bg_mse", show_progress=False)
    before = (tmp_path / METRICS_CSV).read_bytes()

    def offline(*args, **kwargs):
        raise OSError("hub unreachable")

    monkeypatch.setattr(open_clip, "download_pretrained", offline)
    with pytest.raises(ModelNotFoundError):
        score_run(tmp_path, metrics="clip_i", show_progress=False)
    assert (tmp_path / METRICS_CSV).read_bytes() == before
    assert not list(tmp_path.glob(".*.part"))


def test_score_command(tmp_path):
    make_run_folder(tmp_path, pair_count=2)
    result = CliRunner().invoke(
        main, ["score", str(tmp_path), "--metrics", "dino,bg_psnr", "--dino-model", "tiny", "--batch-size", "1"]
    )
    assert result.exit_code == 0, result.output
    metrics = pd.read_csv(tmp_path / METRICS_CSV)
    assert len(metrics) == 2
    assert metrics["dino"].notna().all()
    assert metrics["clip_i"].isna().all()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--metrics", "none"], "--metrics none leaves nothing to score"),
        (["--metrics", "dino,fid"], "unknown metric 'fid'"),
        (["--device", "tpu9"], "invalid device"),
        (["--dino-model", "tiny", "--metrics", "dino", "--dino-checkpoint", "absent.pth"], "absent.pth not found"),
    ],
)
def test_score_command_errors(tmp_path, arguments, message):
    make_run_folder(tmp_path, pair_count=1, failed=0)
    result = CliRunner().invoke(main, ["score", str(tmp_path), *arguments])
    assert result.exit_code != 0
    assert message in result.output


def test_score_command_missing_run(tmp_path):
    result = CliRunner().invoke(main, ["score", str(tmp_path / "absent")])
    assert result.exit_code == 2
    assert "run folder not found" in result.output


def test_manifest_names_as_mappings(tmp_path):
    make_run_folder(tmp_path, pair_count=1, failed=0)
    (tmp_path / MANIFEST).write_text(json.dumps({"method": {"name": "ego"}, "bench": {"name": "dreamedit"}}))
    table = score_run(tmp_path, metrics="bg_mse", show_progress=False)
    assert (table.loc[0, "method"], table.loc[0, "bench"]) == ("ego", "dreamedit")
