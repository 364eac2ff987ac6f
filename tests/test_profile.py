"""`egobench profile` on the tiny model: the stage table, JSON, traces, and the counts behind them."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner

from egobench.cli import main
from egobench.profiling.flops import flop_counter
from egobench.profiling.least_work import IterationNeeds, UNetCosts, least_unet_equivalents
from egobench.profiling.recorder import StageRecorder
from egobench.profiling.stages import iteration, recording, stage

ITERATION_STAGES = {"text_energy_unet", "reference_features", "feature_forward", "prediction_suffix", "matching", "backward"}
# Two iterations: t=650 runs the text energy only, t=500 adds image energy (it starts at t <= 600).
SCHEDULE = ["--steps", "2", "--set", "ego.schedule.t_max=650", "--set", "ego.schedule.t_min=500"]


def profile(*arguments: str):
    return CliRunner().invoke(main, ["profile", "--model", "tiny", "--device", "cpu", *arguments], catch_exceptions=False)


@pytest.fixture(scope="module")
def report():
    result = profile(*SCHEDULE, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_profile_prints_stage_table():
    result = profile(*SCHEDULE)
    assert result.exit_code == 0, result.output
    for name in ("vae_encode", "text_energy_unet", "reference_features", "feature_forward", "matching", "backward", "vae_decode"):
        assert name in result.output, name
    assert "UNet-equivalents per iteration" in result.output
    assert "least" in result.output


def test_profile_json_has_every_stage(report):
    stages = {row["stage"] for row in report["stages"]}
    assert ITERATION_STAGES <= stages
    assert {"vae_encode", "prompt_encode", "vae_decode"} <= stages
    assert [row["mechanisms"] for row in report["iterations"]] == ["text", "text+image"]
    assert sum(row["share"] for row in report["stages"]) == pytest.approx(1.0, abs=1e-6)
    assert report["memory_measure"]


def test_profile_counts_five_predictions_per_iteration(report):
    # With a negative prompt the text energy needs five batch-1 forwards per iteration. With image
    # energy, eps(x~_t, y_ref) is finished from the shared feature prefix instead of the batch.
    stages = {row["stage"]: row["unet_equivalents"] for row in report["stages"] if row["scope"] == "iteration"}
    prefix = report["prefix_fraction"]
    assert stages["text_energy_unet"] == pytest.approx(5 + 4, rel=1e-9)
    assert stages["prediction_suffix"] == pytest.approx(1 - prefix, rel=1e-6)
    assert stages["feature_forward"] == pytest.approx(prefix, rel=1e-6)
    assert stages["reference_features"] == pytest.approx(prefix, rel=1e-6)


def test_profile_measured_equals_least_work(report):
    full = [row for row in report["iterations"] if row["mechanisms"] == "text+image"]
    assert full
    for row in report["iterations"]:
        # Gradient smoothing's blur is the only counted work outside the least value.
        assert row["unet_equivalents"] == pytest.approx(row["least"], rel=2e-3)
    assert report["full_iteration_least"] == pytest.approx(5 + report["prefix_fraction"] + report["prefix_backward_fraction"])


def test_profile_shows_unshared_prefix_as_extra_work(report):
    result = profile(*SCHEDULE, "--json", "--set", "ego.runtime.share_prefix=false")
    unshared = json.loads(result.stdout)
    extra = unshared["full_iteration_unet_equivalents"] - report["full_iteration_unet_equivalents"]
    assert extra == pytest.approx(report["prefix_fraction"], rel=1e-3)


def test_profile_reuse_reaches_least_with_reuse():
    result = profile(*SCHEDULE, "--json", "--reuse")
    reused = json.loads(result.stdout)
    assert reused["reuse"] is True
    for row in reused["iterations"]:
        assert row["unet_equivalents"] == pytest.approx(row["least_with_reuse"], rel=2e-3)


def test_profile_batch_reports_cost_per_pair(report):
    result = profile(*SCHEDULE, "--json", "--pairs-per-batch", "2")
    batched = json.loads(result.stdout)
    assert batched["pairs_per_batch"] == 2
    assert batched["unet_equivalents_per_iteration"] == pytest.approx(report["unet_equivalents_per_iteration"], rel=1e-3)


def test_profile_writes_chrome_trace(tmp_path):
    trace = tmp_path / "trace.json"
    result = profile("--steps", "1", "--trace", str(trace))
    assert result.exit_code == 0, result.output
    events = json.loads(trace.read_text())["traceEvents"]
    names = {event.get("name") for event in events}
    assert "egobench/text_energy_unet" in names
    assert not list(tmp_path.glob("*.part"))


def test_profile_rejects_resolution_off_the_latent_grid():
    result = CliRunner().invoke(main, ["profile", "--model", "tiny", "--device", "cpu", "--resolution", "100"])
    assert result.exit_code != 0
    assert "multiple of 8" in result.output


def test_recorder_charges_nested_stage_flops_once():
    first, second = torch.randn(8, 16), torch.randn(16, 4)
    counter = flop_counter()
    recorder = StageRecorder(torch.device("cpu"), flops=counter)
    with counter, recording(recorder):
        recorder.start()
        with iteration(0, 500):
            with stage("outer"):
                first @ second
                with stage("inner"):
                    first @ second
                    first @ second
        recorder.stop()
    stages = recorder.iterations[0].stages
    assert stages["outer"].flops == 2 * 8 * 16 * 4
    assert stages["inner"].flops == 2 * 2 * 8 * 16 * 4
    assert stages["other"].flops == 0


def test_stage_hooks_do_nothing_without_recorder():
    with stage("alone"), iteration(0, 10):
        value = 1 + 1
    assert value == 2


@pytest.mark.parametrize(
    "needs, reuse, expected",
    [
        (IterationNeeds(text=True, negative=True, features=False, image_gradient=False, shared_prefix=True), False, 5.0),
        (IterationNeeds(text=True, negative=False, features=False, image_gradient=False, shared_prefix=True), False, 4.0),
        (IterationNeeds(text=True, negative=True, features=True, image_gradient=True, shared_prefix=True), False, 5.0 + 0.4 + 0.5),
        (IterationNeeds(text=True, negative=True, features=True, image_gradient=True, shared_prefix=False), False, 5.0 + 0.8 + 0.5),
        (IterationNeeds(text=True, negative=True, features=True, image_gradient=True, shared_prefix=True), True, 3.0 + 0.5),
        (IterationNeeds(text=True, negative=True, features=True, image_gradient=False, shared_prefix=True), False, 5.0 + 0.4),
        (IterationNeeds(text=False, negative=True, features=True, image_gradient=True, shared_prefix=True), False, 0.8 + 0.5),
    ],
)
def test_least_unet_equivalents(needs, reuse, expected):
    costs = UNetCosts(forward_flops=1000, prefix_flops=400, prefix_backward_flops=500, up_block=1)
    assert least_unet_equivalents(costs, needs, reuse=reuse) == pytest.approx(expected)
