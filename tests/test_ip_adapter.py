"""IP-Adapter image tokens, with a random-weight adapter saved in the h94/IP-Adapter layout."""

from __future__ import annotations

import pytest
import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

from egobench.config import load_preset
from egobench.errors import ModelNotFoundError
from egobench.methods.ego import EgoEdit
from egobench.models.stable_diffusion import load_stable_diffusion
from tests.helpers import loaded_pair

IMAGE_EMBED_DIM = 16


def write_random_ip_adapter(folder, unet_config) -> None:
    """Write `models/ip-adapter_sd15.bin` and `models/image_encoder/` with random weights."""
    torch.manual_seed(0)
    cross_attention_dim = unet_config.cross_attention_dim
    encoder = CLIPVisionModelWithProjection(
        CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2, image_size=32, patch_size=8, projection_dim=IMAGE_EMBED_DIM)
    )
    encoder.save_pretrained(folder / "models" / "image_encoder")

    sd = load_stable_diffusion("tiny")
    adapter = {}
    key_id = 1
    for name in sd.unet.attn_processors:
        if name.endswith("attn2.processor"):
            if name.startswith("mid_block"):
                hidden = unet_config.block_out_channels[-1]
            elif name.startswith("up_blocks"):
                hidden = list(reversed(unet_config.block_out_channels))[int(name[len("up_blocks.")])]
            else:
                hidden = unet_config.block_out_channels[int(name[len("down_blocks.")])]
            adapter[f"{key_id}.to_k_ip.weight"] = torch.randn(hidden, cross_attention_dim) * 0.2
            adapter[f"{key_id}.to_v_ip.weight"] = torch.randn(hidden, cross_attention_dim) * 0.2
            key_id += 2
    image_proj = {
        "proj.weight": torch.randn(4 * cross_attention_dim, IMAGE_EMBED_DIM) * 0.2,
        "proj.bias": torch.zeros(4 * cross_attention_dim),
        "norm.weight": torch.ones(cross_attention_dim),
        "norm.bias": torch.zeros(cross_attention_dim),
    }
    torch.save({"image_proj": image_proj, "ip_adapter": adapter}, folder / "models" / "ip-adapter_sd15.bin")


def ego_with(*overrides: str) -> EgoEdit:
    config = load_preset("ego", ["ego.steps=4", "ego.schedule.t_max=650", "ego.schedule.t_min=450", *overrides])
    return EgoEdit(config, model="tiny")


@pytest.fixture(scope="module")
def adapter_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ip-adapter")
    write_random_ip_adapter(folder, load_stable_diffusion("tiny").unet.config)
    return folder


def test_ip_adapter_folder_loads_and_changes_the_edit(adapter_folder):
    pair = loaded_pair()
    plain = ego_with().optimise(pair, seed=0)
    with_tokens = ego_with(f"ego.ip_adapter.path={adapter_folder}", "ego.ip_adapter.scale=1.0")
    assert with_tokens.sd.unet.encoder_hid_proj is not None
    latent = with_tokens.optimise(pair, seed=0)
    assert torch.isfinite(latent).all()
    assert not torch.allclose(latent, plain)


def test_ip_adapter_state_dict_file_needs_image_encoder(adapter_folder):
    weights = adapter_folder / "models" / "ip-adapter_sd15.bin"
    with pytest.raises(ModelNotFoundError, match="image_encoder"):
        ego_with(f"ego.ip_adapter.path={weights}")
    method = ego_with(f"ego.ip_adapter.path={weights}", f"ego.ip_adapter.image_encoder={adapter_folder / 'models' / 'image_encoder'}")
    assert torch.isfinite(method.optimise(loaded_pair(), seed=0)).all()


def test_ip_adapter_scale_zero_matches_plain_run(adapter_folder):
    pair = loaded_pair()
    plain = ego_with().optimise(pair, seed=0)
    silent = ego_with(f"ego.ip_adapter.path={adapter_folder}", "ego.ip_adapter.scale=0.0").optimise(pair, seed=0)
    assert torch.allclose(plain, silent, atol=1e-4)


def test_missing_ip_adapter_is_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match="--ip-adapter"):
        ego_with(f"ego.ip_adapter.path={tmp_path / 'nothing-here'}")
