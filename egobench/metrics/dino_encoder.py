"""Self-supervised DINO ViT image encoders through timm, from the hub, a checkpoint file, or `tiny`.

The embedding is the final-layer [CLS] token after the last LayerNorm, which is what timm's
DINO models return with their head removed. Preprocessing is timm's evaluation transform for
the model's pretrained config (for `vit_small_patch16_224.dino` in timm 1.0: bicubic resize of the
shorter side to 248, centre crop 224, ImageNet mean and standard deviation).

`tiny` is the same ViT with width 64, 2 blocks and 2 heads. Without a checkpoint it is randomly
initialised from a fixed seed, for smoke runs and tests, and its scores carry no
information about real edits.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from PIL import Image

from egobench.errors import ConfigError, ModelNotFoundError
from egobench.metrics.defaults import DEFAULT_DINO_MODEL, TINY

TINY_SEED = 0

# The names of DINO's own release mapped to timm's names for the same weights.
DINO_ALIASES = {
    "dino_vits16": "vit_small_patch16_224.dino",
    "dino_vits8": "vit_small_patch8_224.dino",
    "dino_vitb16": "vit_base_patch16_224.dino",
    "dino_vitb8": "vit_base_patch8_224.dino",
}
TINY_ARCHITECTURE = ("vit_small_patch16_224.dino", {"embed_dim": 64, "depth": 2, "num_heads": 2})


class DinoEncoder:
    """A timm ViT with its evaluation preprocessing.

    Embeddings are L2-normalised float32 tensors on the CPU, shape (N, embed_dim).
    """

    def __init__(self, model: torch.nn.Module, name: str, device: torch.device):
        self.model = model.eval().to(device)
        data_config = timm.data.resolve_model_data_config(model)
        self.preprocess = timm.data.create_transform(**data_config, is_training=False)
        self.name = name
        self.device = device

    @torch.inference_mode()
    def encode_images(self, images: list[Image.Image]) -> torch.Tensor:
        pixels = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        features = self.model(pixels)
        return F.normalize(features.float(), dim=-1).cpu()


def load_dino(
    model_name: str = DEFAULT_DINO_MODEL,
    checkpoint: str | None = None,
    device: str | torch.device = "cpu",
) -> DinoEncoder:
    """Build a DINO encoder from a timm model name (or DINO alias) and an optional checkpoint file.

    Without `checkpoint`, a named model's weights come from timm's hub download (or its cache),
    and `tiny` gets seeded random weights. With `checkpoint`, timm loads that file into the
    architecture: a timm state dict or DINO's released `*_pretrain.pth` file.

    Raises:
        ModelNotFoundError: the weights are neither cached nor downloadable, or the file is missing.
        ConfigError: the model name is unknown, or the checkpoint does not fit the architecture.
    """
    device = torch.device(device)
    if model_name == TINY:
        timm_name, architecture = TINY_ARCHITECTURE
    else:
        timm_name, architecture = DINO_ALIASES.get(model_name, model_name), {}
        if not timm.is_model(timm_name):
            raise ConfigError(
                f"unknown DINO model {model_name!r}; pass {DEFAULT_DINO_MODEL}, another DINO alias "
                f"({', '.join(DINO_ALIASES)}), a timm model name, or `tiny`"
            )

    if checkpoint is not None and not Path(checkpoint).is_file():
        raise ModelNotFoundError(
            f"DINO checkpoint {checkpoint} not found; pass an existing file to --dino-checkpoint, "
            f"or --dino-model tiny for random weights"
        )

    if model_name == TINY and checkpoint is None:
        # Seeding inside a forked generator keeps the weights fixed without touching the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model = timm.create_model(timm_name, pretrained=False, num_classes=0, **architecture)
        return DinoEncoder(model, "tiny-random-dino", device)

    model = _create_pretrained(timm_name, checkpoint, architecture)
    if checkpoint is None:
        label = timm_name
    else:
        label = f"{'tiny-dino' if model_name == TINY else timm_name}:{Path(checkpoint).name}"
    return DinoEncoder(model, label, device)


def _create_pretrained(timm_name: str, checkpoint: str | None, architecture: dict) -> torch.nn.Module:
    # timm reads `file` from the pretrained config before any hub or URL source, so a local
    # checkpoint goes through the same loader (and checkpoint filter) as downloaded weights.
    overlay = {"file": str(checkpoint)} if checkpoint else None
    try:
        return timm.create_model(
            timm_name, pretrained=True, pretrained_cfg_overlay=overlay, num_classes=0, **architecture
        )
    except RuntimeError as error:
        if checkpoint is None:
            raise ModelNotFoundError(_not_found_message(timm_name, error)) from error
        raise ConfigError(
            f"DINO checkpoint {checkpoint} could not be loaded into {timm_name} ({_summary(error)}); "
            f"pass a checkpoint of that architecture, or the --dino-model it was trained with"
        ) from error
    except (OSError, ValueError, pickle.UnpicklingError, EOFError) as error:
        if checkpoint is None:
            raise ModelNotFoundError(_not_found_message(timm_name, error)) from error
        raise ConfigError(f"DINO checkpoint {checkpoint} is not a readable state dict ({_summary(error)})") from error


def _summary(error: Exception, limit: int = 200) -> str:
    """Return the error's message on one line, shortened: state dict mismatches list hundreds of keys."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _not_found_message(timm_name: str, error: Exception) -> str:
    return (
        f"DINO weights {timm_name} not found locally and not downloadable ({type(error).__name__}); "
        f"pass --dino-checkpoint PATH to a local checkpoint file, or --dino-model tiny for random weights"
    )
