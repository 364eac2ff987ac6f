"""CLIP and DINO encoders: random-weight models saved by the test and loaded back through the real loaders."""

from __future__ import annotations

import numpy as np
import open_clip
import pytest
import timm
import torch
from PIL import Image

from egobench.errors import ConfigError, ModelNotFoundError
from egobench.metrics import clip_encoder
from egobench.metrics.clip_encoder import TINY_CONFIG, load_clip
from egobench.metrics.dino_encoder import TINY_ARCHITECTURE, load_dino


def _images(count: int, seed: int = 0) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (48 + 8 * i, 40, 3), dtype=np.uint8)) for i in range(count)]


@pytest.fixture(scope="module")
def clip_checkpoint(tmp_path_factory):
    """A tiny CLIP built here from another seed than `tiny`'s, saved as an open_clip checkpoint."""
    torch.manual_seed(1234)
    model = open_clip.create_model(TINY_CONFIG, pretrained=None)
    path = tmp_path_factory.mktemp("clip") / "tiny-clip.pt"
    torch.save(model.state_dict(), path)
    return path, model.eval()


@pytest.fixture(scope="module")
def dino_checkpoint(tmp_path_factory):
    """A tiny DINO ViT built here from another seed than `tiny`'s, saved as a timm state dict."""
    timm_name, architecture = TINY_ARCHITECTURE
    torch.manual_seed(1234)
    model = timm.create_model(timm_name, pretrained=False, num_classes=0, **architecture)
    path = tmp_path_factory.mktemp("dino") / "tiny-dino.pth"
    torch.save(model.state_dict(), path)
    return path, model.eval()


def test_tiny_clip_is_deterministic():
    first = load_clip("tiny")
    second = load_clip("tiny")
    images = _images(2)
    assert first.name == "tiny-random-clip"
    assert torch.equal(first.encode_images(images), second.encode_images(images))
    assert torch.equal(first.encode_texts(["a dog"]), second.encode_texts(["a dog"]))


def test_tiny_dino_is_deterministic():
    first = load_dino("tiny")
    second = load_dino("tiny")
    images = _images(2)
    assert first.name == "tiny-random-dino"
    assert torch.equal(first.encode_images(images), second.encode_images(images))


def test_tiny_keeps_global_rng():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    load_dino("tiny")
    assert torch.equal(torch.rand(3), expected)


def test_clip_checkpoint_loads_saved_weights(clip_checkpoint):
    path, built = clip_checkpoint
    encoder = load_clip("tiny", str(path))
    images = _images(3)

    with torch.no_grad():
        pixels = torch.stack([encoder.preprocess(image) for image in images])
        expected = torch.nn.functional.normalize(built.encode_image(pixels), dim=-1)
    assert encoder.name == "tiny-clip:tiny-clip.pt"
    assert torch.allclose(encoder.encode_images(images), expected, atol=1e-6)
    assert not torch.allclose(encoder.encode_images(images), load_clip("tiny").encode_images(images), atol=1e-3)


def test_dino_checkpoint_loads_saved_weights(dino_checkpoint):
    path, built = dino_checkpoint
    encoder = load_dino("tiny", str(path))
    images = _images(3)

    with torch.no_grad():
        pixels = torch.stack([encoder.preprocess(image) for image in images])
        expected = torch.nn.functional.normalize(built(pixels), dim=-1)
    assert encoder.name == "tiny-dino:tiny-dino.pth"
    assert torch.allclose(encoder.encode_images(images), expected, atol=1e-6)
    assert not torch.allclose(encoder.encode_images(images), load_dino("tiny").encode_images(images), atol=1e-3)


def test_embeddings_unit_norm():
    clip = load_clip("tiny")
    dino = load_dino("tiny")
    images = _images(2)
    for embeddings in (clip.encode_images(images), clip.encode_texts(["a", "b c"]), dino.encode_images(images)):
        assert torch.allclose(embeddings.norm(dim=-1), torch.ones(len(embeddings)), atol=1e-5)


def test_dino_preprocessing_size():
    encoder = load_dino("tiny")
    pixels = encoder.preprocess(_images(1)[0])
    assert pixels.shape == (3, 224, 224)


@pytest.mark.slow
def test_dino_vits16_checkpoint_file(tmp_path):
    """The default DINO name loads a ViT-S/16 checkpoint file through timm's file source."""
    torch.manual_seed(3)
    model = timm.create_model("vit_small_patch16_224", pretrained=False, num_classes=0)
    path = tmp_path / "dino_deitsmall16_pretrain.pth"
    torch.save(model.state_dict(), path)

    encoder = load_dino("dino_vits16", str(path))
    with torch.no_grad():
        pixels = torch.stack([encoder.preprocess(image) for image in _images(1)])
        expected = torch.nn.functional.normalize(model.eval()(pixels), dim=-1)
    assert encoder.name == "vit_small_patch16_224.dino:dino_deitsmall16_pretrain.pth"
    assert torch.allclose(encoder.encode_images(_images(1)), expected, atol=1e-5)


def test_missing_clip_weights_message(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("hub unreachable")

    monkeypatch.setattr(open_clip, "download_pretrained", offline)
    with pytest.raises(ModelNotFoundError) as raised:
        load_clip("ViT-B-32", "openai")
    message = str(raised.value)
    assert "--clip-pretrained" in message
    assert "--clip-model tiny" in message
    assert "\n" not in message


def test_missing_dino_weights_message(monkeypatch):
    def offline(*args, **kwargs):
        raise OSError("hub unreachable")

    # timm resolves hub downloads through this function; the conftest already blocks the network.
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_hf", offline)
    monkeypatch.setattr(timm.models._builder, "load_state_dict_from_url", offline)
    with pytest.raises(ModelNotFoundError) as raised:
        load_dino("dino_vits16")
    message = str(raised.value)
    assert "--dino-checkpoint" in message
    assert "--dino-model tiny" in message


def test_openai_tag_turns_on_quick_gelu(monkeypatch, tmp_path):
    monkeypatch.setattr(open_clip, "download_pretrained", lambda config, **kwargs: str(tmp_path / "weights.bin"))
    assert clip_encoder._resolve_pretrained("ViT-B-32", "openai") == (False, True)
    assert clip_encoder._resolve_pretrained("ViT-B-32", "laion2b_s34b_b79k") == (False, False)


def test_missing_checkpoint_files(tmp_path):
    with pytest.raises(ModelNotFoundError, match="--clip-pretrained"):
        load_clip("ViT-B-32", str(tmp_path / "absent.pt"))
    with pytest.raises(ModelNotFoundError, match="--dino-checkpoint"):
        load_dino("tiny", str(tmp_path / "absent.pth"))


def test_checkpoint_of_other_architecture(clip_checkpoint, dino_checkpoint):
    clip_path, _ = clip_checkpoint
    dino_path, _ = dino_checkpoint
    with pytest.raises(ConfigError, match="could not be loaded"):
        load_dino("tiny", str(clip_path))
    with pytest.raises(ConfigError, match="could not be loaded"):
        load_clip("tiny", str(dino_path))


def test_unreadable_checkpoint(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="broken.pt"):
        load_clip("tiny", str(path))


def test_unknown_names():
    with pytest.raises(ConfigError, match="unknown CLIP model"):
        load_clip("ViT-Q-99")
    with pytest.raises(ConfigError, match="neither a pretrained tag"):
        load_clip("ViT-B-32", "no_such_tag")
    with pytest.raises(ConfigError, match="unknown DINO model"):
        load_dino("dino_vitq99")
