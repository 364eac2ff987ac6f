"""Model loading: the tiny random model, local folders and hub ids, all without network."""

from __future__ import annotations

import shutil

import pytest
import torch

from egobench.errors import ModelNotFoundError
from egobench.models.stable_diffusion import load_stable_diffusion
from egobench.models.tiny import build_random_sd


def test_tiny_model_builds_deterministically(tmp_path):
    first = build_random_sd("tiny", tmp_path / "a")
    second = build_random_sd("tiny", tmp_path / "b")
    one = load_stable_diffusion(str(first))
    two = load_stable_diffusion(str(second))
    for module_one, module_two in [(one.unet, two.unet), (one.vae, two.vae), (one.text_encoder, two.text_encoder)]:
        for (name, tensor_one), (_, tensor_two) in zip(module_one.state_dict().items(), module_two.state_dict().items()):
            assert torch.equal(tensor_one, tensor_two), name


def test_tiny_model_has_sd15_layout():
    sd = load_stable_diffusion("tiny")
    assert len(sd.unet.down_blocks) == 4
    assert len(sd.unet.up_blocks) == 4
    assert sd.vae_scale_factor == 8
    assert sd.resolution == 128
    assert sd.encode_prompts(["a photo of a dog"]).shape == (1, 77, sd.unet.config.cross_attention_dim)


def test_local_folder_loads_through_from_pretrained(tmp_path):
    folder = build_random_sd("tiny", tmp_path / "model")
    sd = load_stable_diffusion(str(folder))
    latent = sd.encode_image(torch.zeros(1, 3, 128, 128))
    assert latent.shape == (1, 4, 16, 16)
    assert sd.decode_latent(latent).shape == (1, 3, 128, 128)


def test_folder_without_weights_is_a_clear_error(tmp_path):
    folder = build_random_sd("tiny", tmp_path / "model")
    (folder / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelNotFoundError, match="no weights in unet/.*--model tiny"):
        load_stable_diffusion(str(folder))


def test_empty_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no weights"):
        load_stable_diffusion(str(tmp_path))


def test_unreachable_hub_id_names_the_fixes(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(ModelNotFoundError) as raised:
        load_stable_diffusion("someone/not-downloaded-model")
    message = str(raised.value)
    assert "--model tiny" in message
    assert "--model PATH" in message
    assert "\n" not in message


def test_cached_tiny_folder_is_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("EGOBENCH_CACHE", str(tmp_path))
    first = load_stable_diffusion("tiny")
    cached = next(tmp_path.iterdir())
    marker = cached / "unet" / "marker"
    marker.write_text("kept")
    second = load_stable_diffusion("tiny")
    assert marker.exists()
    assert torch.equal(next(first.unet.parameters()), next(second.unet.parameters()))
    shutil.rmtree(cached)
