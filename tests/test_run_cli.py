"""`egobench run` end to end on the tiny model: run folders, resuming, and bad input."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from egobench.cli import main
from tests.helpers import dreamedit_layout


def run_cli(*arguments: str):
    return CliRunner().invoke(main, list(arguments), catch_exceptions=False)


def file_states(folder):
    return {str(path): (path.stat().st_mtime_ns, path.read_bytes()) for path in sorted(folder.rglob("*")) if path.is_file()}


def results(run_dir):
    with (run_dir / "results.csv").open() as handle:
        return {row["pair_id"]: row for row in csv.DictReader(handle)}


FAST = ["--set", "ego.steps=4", "--set", "ego.schedule.t_max=700", "--set", "ego.schedule.t_min=400"]


def test_run_writes_run_folder_and_resumes(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 2, "cat": 1})
    run_dir = tmp_path / "run"
    arguments = ["run", "--method", "ego", "--bench", "dreamedit", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(run_dir), "--device", "cpu", *FAST]

    first = run_cli(*arguments)
    assert first.exit_code == 0, first.output
    rows = results(run_dir)
    assert len(rows) == 3
    assert {row["status"] for row in rows.values()} == {"done"}
    for pair_id in rows:
        folder = run_dir / "pairs" / pair_id
        with Image.open(folder / "edited.png") as edited:
            assert edited.size == (128, 128)
        with Image.open(folder / "strip.png") as strip:
            assert strip.size == (5 * 128, 128)
        for name in ("source.png", "reference.png", "source_mask.png", "reference_mask.png", "trace.csv", "pair.json"):
            assert (folder / name).is_file(), name
    manifest = json.loads((run_dir / "manifest.json").read_text())
    for key in ("config", "seed", "versions", "model", "device", "git_commit", "started_at", "finished_at"):
        assert key in manifest, key
    assert manifest["model"] == "tiny"
    assert manifest["config"]["ego"]["steps"] == 4
    assert not list(run_dir.rglob("*.part"))
    with (run_dir / "metrics.csv").open() as handle:
        metric_rows = list(csv.DictReader(handle))
    assert sorted(row["pair_id"] for row in metric_rows) == sorted(rows)
    assert {row["clip_model"] for row in metric_rows} == {"tiny-random-clip"}
    assert (run_dir / "summary.csv").is_file()

    before = file_states(run_dir)
    second = run_cli(*arguments)
    assert second.exit_code == 0, second.output
    assert file_states(run_dir) == before


def test_interrupted_run_redoes_only_missing_pairs(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 3})
    run_dir = tmp_path / "run"
    arguments = ["run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(run_dir), "--device", "cpu", *FAST]
    assert run_cli(*arguments, "--limit", "2").exit_code == 0
    kept = sorted(results(run_dir))
    kept_bytes = (run_dir / "pairs" / kept[0] / "edited.png").read_bytes()

    assert run_cli(*arguments).exit_code == 0
    assert len(results(run_dir)) == 3
    assert (run_dir / "pairs" / kept[0] / "edited.png").read_bytes() == kept_bytes


def test_same_seed_gives_identical_images(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    common = ["--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--device", "cpu", *FAST]
    assert run_cli("run", *common, "--out", str(tmp_path / "a")).exit_code == 0
    assert run_cli("run", *common, "--out", str(tmp_path / "b")).exit_code == 0
    pair_id = next(iter(results(tmp_path / "a")))
    image_a = np.asarray(Image.open(tmp_path / "a" / "pairs" / pair_id / "edited.png"))
    image_b = np.asarray(Image.open(tmp_path / "b" / "pairs" / pair_id / "edited.png"))
    assert np.array_equal(image_a, image_b)


def test_changed_settings_in_same_folder_are_refused(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    common = ["run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(tmp_path / "run"), "--device", "cpu", *FAST]
    assert run_cli(*common).exit_code == 0
    refused = run_cli(*common, "--set", "ego.learning_rate=0.5")
    assert refused.exit_code != 0
    assert "different settings" in refused.output


def test_unreadable_image_fails_one_pair(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 2})
    (data_root / "replacement_source" / "dog" / "found0.jpg").write_bytes(b"not a jpeg")
    result = run_cli("run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(tmp_path / "run"), "--device", "cpu", *FAST)
    assert result.exit_code == 1
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "found0.jpg" in error_lines[0]
    rows = results(tmp_path / "run")
    assert sorted(row["status"] for row in rows.values()) == ["done", "failed"]


def test_missing_data_root_is_one_line_error(tmp_path):
    result = run_cli("run", "--model", "tiny", "--data-root", str(tmp_path / "nowhere"), "--subjects", str(tmp_path), "--out", str(tmp_path / "run"))
    assert result.exit_code != 0
    assert result.output.strip().count("\n") == 0
    assert "replacement_source" in result.output


def test_empty_mask_fails_with_named_pair(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    Image.new("RGB", (160, 160), (128, 128, 128)).save(data_root / "replacement_source" / "dog" / "found0.jpg")
    result = run_cli("run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(tmp_path / "run"), "--device", "cpu", *FAST)
    assert result.exit_code == 1
    assert "mask" in result.output
    assert "dog-found0" in result.output


def test_model_folder_without_weights_exits_with_one_line(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    (tmp_path / "empty-model" / "unet").mkdir(parents=True)
    result = run_cli("run", "--model", str(tmp_path / "empty-model"), "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(tmp_path / "run"), "--device", "cpu", "--metrics", "none")
    assert result.exit_code != 0
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1
    assert "--model tiny" in error_lines[0]
    assert not (tmp_path / "run").exists()


def test_unknown_override_is_rejected(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    result = run_cli("run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(tmp_path / "run"), "--set", "ego.stepz=3")
    assert result.exit_code != 0
    assert "unknown setting 'stepz'" in result.output


@pytest.mark.skipif(os.environ.get("EGOBENCH_SKIP_SHARED") == "1", reason="shared photos disabled")
def test_run_on_shared_photos(tmp_path, shared_data):
    result = run_cli(
        "run", "--model", "tiny", "--data-root", str(shared_data / "dreamedit-proxy"), "--subjects", str(shared_data / "dreambooth"),
        "--limit", "2", "--out", str(tmp_path / "run"), "--device", "cpu", *FAST,
    )
    assert result.exit_code == 0, result.output
    assert len(results(tmp_path / "run")) == 2


def test_missing_encoders_stop_run_before_editing(tmp_path):
    from egobench.models.tiny import build_random_sd

    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    model = build_random_sd("tiny", tmp_path / "model")
    result = run_cli(
        "run", "--model", str(model), "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject",
        "--out", str(tmp_path / "run"), "--device", "cpu", *FAST,
    )
    assert result.exit_code != 0
    assert "--clip-model tiny" in result.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "override, expected",
    [("ego.steps=abc", "expected int"), ("ego.text_energy.enabled=maybe", "expected bool"), ("ego.learning_rate=fast", "expected float")],
)
def test_wrongly_typed_override_is_rejected(tmp_path, override, expected):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    result = run_cli(
        "run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject",
        "--out", str(tmp_path / "run"), "--metrics", "none", "--set", override,
    )
    assert result.exit_code != 0
    assert expected in result.output
    assert not (tmp_path / "run").exists()


def test_override_without_equals_is_rejected(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    result = run_cli("run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--out", str(tmp_path / "run"), "--set", "steps20")
    assert result.exit_code != 0
    assert "expected KEY.PATH=VALUE" in result.output


def test_missing_model_folder_is_named(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    result = run_cli("run", "--model", str(tmp_path / "no-such-model"), "--data-root", str(data_root), "--subjects", str(subjects), "--out", str(tmp_path / "run"))
    assert result.exit_code != 0
    assert "model folder not found" in result.output


def test_folder_without_finished_pairs_takes_new_settings(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text(json.dumps({"fingerprint": {"config": "an older crashed run"}}))
    result = run_cli(
        "run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject",
        "--out", str(run_dir), "--device", "cpu", "--metrics", "none", *FAST,
    )
    assert result.exit_code == 0, result.output
    assert len(results(run_dir)) == 1


def test_score_uses_tiny_encoders_for_tiny_runs(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    run_dir = tmp_path / "run"
    common = ["--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject", "--out", str(run_dir)]
    assert run_cli("run", "--model", "tiny", *common, "--device", "cpu", "--metrics", "none", *FAST).exit_code == 0
    scored = run_cli("score", str(run_dir), "--metrics", "dino,clip_i")
    assert scored.exit_code == 0, scored.output
    with (run_dir / "metrics.csv").open() as handle:
        assert {row["clip_model"] for row in csv.DictReader(handle)} == {"tiny-random-clip"}


def test_manifest_that_is_not_object_is_rejected(tmp_path):
    data_root, subjects = dreamedit_layout(tmp_path, {"dog": 1})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("[]")
    result = run_cli(
        "run", "--model", "tiny", "--data-root", str(data_root), "--subjects", str(subjects), "--pairing", "subject",
        "--out", str(run_dir), "--metrics", "none",
    )
    assert result.exit_code != 0
    assert "expected a JSON object" in result.output
    assert "choose a new --out" in result.output
