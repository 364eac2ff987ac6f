"""CLIP image and text encoders through open_clip, from a hub tag, a checkpoint file, or `tiny`.

`tiny` is the open_clip config `egobench-tiny-vit` (a ViT with 2 layers of width 64 in each tower,
ViT-B/32's patch size and tokenizer) shipped in `configs/`. Without a checkpoint it is randomly
initialised from a fixed seed, for smoke runs and tests, and its scores carry no
information about real edits.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F
from PIL import Image

from egobench.errors import ConfigError, ModelNotFoundError
from egobench.metrics.defaults import DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED, TINY

TINY_CONFIG = "egobench-tiny-vit"
TINY_SEED = 0

open_clip.add_model_config(Path(__file__).parent / "configs" / f"{TINY_CONFIG}.json")

# Values of --clip-pretrained that leave `tiny` randomly initialised: the default tag has no
# weights for it, and `none` requests random weights explicitly.
_RANDOM_TINY_TAGS = {None, "", "none", DEFAULT_CLIP_PRETRAINED}


class ClipEncoder:
    """An open_clip model with its inference preprocessing and tokenizer.

    Embeddings are L2-normalised float32 tensors on the CPU, shape (N, embed_dim), so a dot
    product of two rows is their cosine similarity.
    """

    def __init__(self, model: torch.nn.Module, preprocess, tokenizer, name: str, device: torch.device):
        self.model = model.eval().to(device)
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.name = name
        self.device = device

    @torch.inference_mode()
    def encode_images(self, images: list[Image.Image]) -> torch.Tensor:
        pixels = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        features = self.model.encode_image(pixels)
        return F.normalize(features.float(), dim=-1).cpu()

    @torch.inference_mode()
    def encode_texts(self, texts: list[str]) -> torch.Tensor:
        tokens = self.tokenizer(texts).to(self.device)
        features = self.model.encode_text(tokens)
        return F.normalize(features.float(), dim=-1).cpu()


def load_clip(
    model_name: str = DEFAULT_CLIP_MODEL,
    pretrained: str | None = DEFAULT_CLIP_PRETRAINED,
    device: str | torch.device = "cpu",
) -> ClipEncoder:
    """Build a CLIP encoder from an open_clip model name and a pretrained tag or checkpoint file.

    `pretrained` is an open_clip tag (`openai`, `laion2b_s34b_b79k`, ...) fetched through
    open_clip's download path, or a local checkpoint file loaded by open_clip. For `tiny` it is a
    checkpoint file or, by default, nothing (seeded random weights).

    Raises:
        ModelNotFoundError: the tag's weights are neither cached nor downloadable, or the file is missing.
        ConfigError: the model name or tag is unknown, or the checkpoint does not fit the architecture.
    """
    device = torch.device(device)
    if model_name == TINY:
        return _load_tiny(pretrained, device)

    if model_name not in open_clip.list_models():
        raise ConfigError(
            f"unknown CLIP model {model_name!r}; pass an open_clip name such as {DEFAULT_CLIP_MODEL} or ViT-L-14 "
            f"(see open_clip.list_models()), or `tiny`"
        )
    is_file, quick_gelu = _resolve_pretrained(model_name, pretrained)
    model, preprocess = _create(model_name, pretrained, quick_gelu)
    label = f"{model_name}:{Path(pretrained).name}" if is_file else f"{model_name}/{pretrained}"
    return ClipEncoder(model, preprocess, open_clip.get_tokenizer(model_name), label, device)


def _load_tiny(pretrained: str | None, device: torch.device) -> ClipEncoder:
    tokenizer = open_clip.get_tokenizer(TINY_CONFIG)
    if pretrained in _RANDOM_TINY_TAGS:
        # Seeding inside a forked generator keeps the weights fixed without touching the caller's random state.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(TINY_SEED)
            model, preprocess = _create(TINY_CONFIG, None, quick_gelu=False)
        return ClipEncoder(model, preprocess, tokenizer, "tiny-random-clip", device)

    checkpoint = _checkpoint_file(pretrained, "--clip-pretrained")
    model, preprocess = _create(TINY_CONFIG, checkpoint, quick_gelu=False)
    return ClipEncoder(model, preprocess, tokenizer, f"tiny-clip:{Path(checkpoint).name}", device)


def _resolve_pretrained(model_name: str, pretrained: str | None) -> tuple[bool, bool]:
    """Check that `pretrained` is available locally; return whether it is a file and whether it expects QuickGELU.

    A tag's weights are fetched (or found in the hub cache) here, so that a missing file becomes
    one clear error before the model is built.
    """
    if not pretrained or pretrained == "none":
        raise ConfigError(
            f"CLIP model {model_name} needs weights: pass --clip-pretrained TAG or a checkpoint file, "
            f"or use --clip-model tiny for random weights"
        )

    tag_config = open_clip.get_pretrained_cfg(model_name, pretrained)
    if not tag_config:
        if Path(pretrained).is_file() or _looks_like_path(pretrained):
            _checkpoint_file(pretrained, "--clip-pretrained")
            return True, False
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model_name)) or "none"
        raise ConfigError(
            f"{pretrained!r} is neither a pretrained tag of {model_name} ({tags}) nor an existing checkpoint file"
        )

    try:
        open_clip.download_pretrained(tag_config)
    except (OSError, RuntimeError, ValueError) as error:
        raise ModelNotFoundError(
            f"CLIP weights {model_name}/{pretrained} not found locally and not downloadable ({type(error).__name__}); "
            f"pass --clip-pretrained PATH to a local checkpoint file, or --clip-model tiny for random weights"
        ) from error
    # OpenAI's weights were trained with QuickGELU, which open_clip's plain config names (ViT-B-32)
    # leave off; without it the embeddings are wrong.
    return False, bool(tag_config.get("quick_gelu", False))


def _create(config_name: str, pretrained: str | None, quick_gelu: bool):
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            config_name, pretrained=pretrained, force_quick_gelu=quick_gelu
        )
    # open_clip reports a state dict of another architecture as RuntimeError, KeyError or a failed
    # assert, and torch.load reports a file that is no checkpoint as UnpicklingError or EOFError.
    except (RuntimeError, KeyError, ValueError, AssertionError, pickle.UnpicklingError, EOFError) as error:
        raise ConfigError(
            f"CLIP checkpoint {pretrained} could not be loaded into model {config_name} ({_summary(error)}); "
            f"pass a checkpoint of that architecture, or the --clip-model it was trained with"
        ) from error
    return model, preprocess


def _summary(error: Exception, limit: int = 200) -> str:
    """Return the error's message on one line, shortened: state dict mismatches list hundreds of keys."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or Path(value).suffix in {".pt", ".pth", ".bin", ".safetensors"}


def _checkpoint_file(path: str | None, option: str) -> str:
    if not path or not Path(path).is_file():
        raise ModelNotFoundError(
            f"CLIP checkpoint file {path!r} not found; pass an existing file to {option}, or --clip-model tiny for random weights"
        )
    return str(path)
