"""Randomly initialised Stable Diffusion models built in code, for smoke runs, tests and profiling.

`tiny` keeps the SD 1.5 topology (four UNet down and up blocks with cross-attention in the first three,
a four-block VAE with an 8x downsampling, a CLIP text encoder) at a width that runs on a laptop CPU.
`sd15-random` is the full SD 1.5 architecture with random weights: the right size and cost, no skill.
Both are deterministic: the same torch version builds the same weights on every machine.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from egobench.atomic import write_text_atomic

logger = logging.getLogger(__name__)

# Bump when a config below changes so that old cached folders are not reused.
TINY_VERSION = 2

# The scheduler of SD 1.5: scaled-linear betas over 1000 training steps.
SD15_SCHEDULER = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
)

TINY_UNET = dict(
    sample_size=16,
    in_channels=4,
    out_channels=4,
    layers_per_block=1,
    block_out_channels=(32, 32, 64, 64),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=32,
    attention_head_dim=8,
    norm_num_groups=8,
)
TINY_VAE = dict(
    sample_size=128,
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    layers_per_block=1,
    block_out_channels=(16, 32, 32, 32),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    norm_num_groups=8,
)
TINY_TEXT = dict(hidden_size=32, intermediate_size=64, num_attention_heads=4, num_hidden_layers=2, projection_dim=32)

SD15_UNET = dict(
    sample_size=64,
    in_channels=4,
    out_channels=4,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768,
    attention_head_dim=8,
)
SD15_VAE = dict(
    sample_size=512,
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    layers_per_block=2,
    block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
)
SD15_TEXT = dict(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12, projection_dim=768)

ARCHITECTURES = {
    "tiny": (TINY_UNET, TINY_VAE, TINY_TEXT),
    "sd15-random": (SD15_UNET, SD15_VAE, SD15_TEXT),
}


def cache_root() -> Path:
    """Return the folder for generated models: $EGOBENCH_CACHE, else ~/.cache/egobench."""
    return Path(os.environ.get("EGOBENCH_CACHE", Path.home() / ".cache" / "egobench"))


def write_byte_level_tokenizer(folder: Path) -> None:
    """Write a CLIP BPE tokenizer with the 512 byte-level symbols and no merges.

    It encodes any text character by character, which is all a random text encoder needs.
    """
    symbols = _bytes_to_unicode()
    vocab = {symbol: index for index, symbol in enumerate(symbols)}
    vocab.update({f"{symbol}</w>": len(symbols) + index for index, symbol in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    folder.mkdir(parents=True, exist_ok=True)
    write_text_atomic(folder / "vocab.json", json.dumps(vocab, ensure_ascii=False))
    write_text_atomic(folder / "merges.txt", "#version: 0.2\n")


def _bytes_to_unicode() -> list[str]:
    # The byte-to-printable-character table of GPT-2 and CLIP's byte-level BPE.
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def build_random_sd(architecture: str, folder: Path) -> Path:
    """Build a random-weight SD model of `architecture` and save it as a diffusers folder."""
    unet_config, vae_config, text_config = ARCHITECTURES[architecture]
    folder = Path(folder)
    logger.info("building random-weight %s model in %s", architecture, folder)

    write_byte_level_tokenizer(folder / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "tokenizer")

    torch.manual_seed(0)
    UNet2DConditionModel(**unet_config).save_pretrained(folder / "unet")
    torch.manual_seed(1)
    AutoencoderKL(**vae_config).save_pretrained(folder / "vae")
    torch.manual_seed(2)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=max(len(tokenizer), 49408 if architecture == "sd15-random" else 0),
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **text_config,
        )
    )
    text_encoder.save_pretrained(folder / "text_encoder")
    DDPMScheduler(**SD15_SCHEDULER).save_pretrained(folder / "scheduler")
    write_text_atomic(folder / "model_index.json", json.dumps({"_class_name": "StableDiffusionPipeline", "egobench_random": architecture}))
    return folder


def random_model_folder(architecture: str) -> Path:
    """Return the cached folder of a random-weight model, building it on first use."""
    folder = cache_root() / f"{architecture}-v{TINY_VERSION}"
    if (folder / "model_index.json").is_file():
        return folder
    staging = folder.with_name(folder.name + f".building-{os.getpid()}")
    build_random_sd(architecture, staging)
    try:
        staging.rename(folder)
    except OSError:
        # Another process finished the same build first; its folder is identical.
        shutil.rmtree(staging, ignore_errors=True)
    return folder
