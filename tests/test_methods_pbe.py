"""Paint-by-Example: the tiny random pipeline, local folders and missing weights."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from egobench.errors import ModelNotFoundError
from egobench.methods import create_method
from egobench.methods.pbe import PaintByExampleMethod, tiny_model_folder
from tests.methods_pairs import REFERENCE_OBJECT, synthetic_pair


@pytest.fixture(scope="module")
def tiny_cache(tmp_path_factory):
    """A cache folder holding the tiny pipeline, built once for the module."""
    with pytest.MonkeyPatch.context() as patch:
        cache = tmp_path_factory.mktemp("egobench-cache")
        patch.setenv("EGOBENCH_CACHE", str(cache))
        yield tiny_model_folder()


@pytest.fixture
def tiny_env(tiny_cache, monkeypatch):
    monkeypatch.setenv("EGOBENCH_CACHE", str(tiny_cache.parent))
    return tiny_cache


def test_tiny_folder_has_hub_layout(tiny_env):
    index = json.loads((tiny_env / "model_index.json").read_text())

    assert index["_class_name"] == "PaintByExamplePipeline"
    assert index["image_encoder"] == ["paint_by_example", "PaintByExampleImageEncoder"]
    assert json.loads((tiny_env / "unet" / "config.json").read_text())["in_channels"] == 9
    assert tiny_model_folder() == tiny_env


def test_tiny_edit_is_deterministic(tiny_env):
    method = create_method("pbe", model="tiny", device="cpu")
    pair = synthetic_pair()

    first = method.edit(pair, seed=0)
    again = method.edit(pair, seed=0)
    other = method.edit(pair, seed=1)

    assert method.resolution == 64
    assert first.mode == "RGB"
    assert first.size == (64, 64)
    assert np.array_equal(np.asarray(first), np.asarray(again))
    assert not np.array_equal(np.asarray(first), np.asarray(other))


def test_local_folder_loads_same_model(tiny_env):
    overrides = [f"pbe.model={tiny_env}", "pbe.resolution=64", "pbe.steps=2", "pbe.tiny.steps=2"]
    from_folder = create_method("pbe", model=None, device="cpu", overrides=overrides)
    tiny = create_method("pbe", model="tiny", device="cpu", overrides=overrides)
    pair = synthetic_pair()

    assert from_folder.weights == str(tiny_env)
    assert np.array_equal(np.asarray(from_folder.edit(pair, seed=3)), np.asarray(tiny.edit(pair, seed=3)))
    assert PaintByExampleMethod.availability(from_folder.config)[0]


def test_pipeline_gets_object_crop_and_mask(tiny_env):
    method = create_method("pbe", model="tiny", device="cpu", overrides=["pbe.tiny.steps=4"])
    calls = []

    class RecordingPipeline:
        def __call__(self, **inputs):
            calls.append(inputs)
            return type("Output", (), {"images": [Image.new("RGB", (64, 64))]})()

    method.pipeline = RecordingPipeline()
    pair = synthetic_pair()
    method.edit(pair, seed=0)

    (inputs,) = calls
    example = np.asarray(inputs["example_image"])
    # The 16 x 48 object crop, padded with white to 48 x 48 and centred.
    assert example.shape == (48, 48, 3)
    assert np.all(example[:, 16:32] == REFERENCE_OBJECT)
    assert np.all(example[:, :16] == 255)
    assert np.array_equal(np.asarray(inputs["mask_image"]) == 255, pair.source_mask)
    assert inputs["num_inference_steps"] == 4
    assert (inputs["height"], inputs["width"]) == (64, 64)


def test_uncached_hub_id_names_fixes():
    with pytest.raises(ModelNotFoundError) as caught:
        create_method("pbe", model=None, device="cpu", overrides=["pbe.model=egobench-tests/no-such-model"])

    message = str(caught.value)
    assert "'egobench-tests/no-such-model' not found" in message
    assert "pbe.model to a local folder" in message
    assert "--model tiny" in message
    assert "\n" not in message


def test_folder_without_index_rejected(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no model_index.json"):
        create_method("pbe", model=None, device="cpu", overrides=[f"pbe.model={tmp_path}"])
    assert not PaintByExampleMethod.availability({"pbe": {"model": str(tmp_path)}})[0]


def test_missing_folder_rejected(tmp_path):
    with pytest.raises(ModelNotFoundError, match="absent: folder not found"):
        create_method("pbe", model=None, device="cpu", overrides=[f"pbe.model={tmp_path / 'absent'}"])


def test_uncached_default_not_available():
    ready, step = PaintByExampleMethod.availability({"pbe": {"model": "egobench-tests/no-such-model"}})

    assert not ready
    assert "`hf download egobench-tests/no-such-model`" in step
    assert "--model tiny" in step
