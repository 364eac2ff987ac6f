"""Paint-by-Example (Yang et al., CVPR 2023): exemplar-guided inpainting through diffusers' own pipeline.

The source mask is repainted from a CLIP image embedding of the reference object, cropped by its
mask's box. Weights come from a hub id in the local Hugging Face cache (a download only with
`pbe.download: true`), a local folder in the diffusers layout, or, with `--model tiny`, a random
miniature of the same architecture that is built once and loaded back through the same code.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from egobench.models.hub import cached_snapshot
from egobench.benches.base import LoadedPair
from egobench.errors import ModelNotFoundError
from egobench.methods import register_method
from egobench.methods.base import EditMethod
from egobench.methods.boxes import crop_object
from egobench.models.tiny import cache_root

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "Fantasy-Studio/Paint-by-Example"
TINY_MODEL = "tiny"
# Bump when the miniature's architecture changes, so that stale cached copies are not reused.
_TINY_VERSION = 1
# The components the pipeline needs; the checkpoint's safety checker is neither downloaded nor loaded.
_COMPONENT_FOLDERS = ("unet", "vae", "image_encoder", "scheduler", "feature_extractor")


@register_method("pbe")
class PaintByExampleMethod(EditMethod):
    """Paint-by-Example through `diffusers.PaintByExamplePipeline`.

    Settings (`pbe:` section): `model` (hub id or local folder), `download` (allow fetching
    `model` from the hub), `resolution` (pixels), `steps` and `guidance_scale`. `pad_reference`
    pads the object crop to a square so that CLIP's centre crop keeps all of it, and `tiny`
    holds the `resolution` and `steps` used with `--model tiny`. Any other `--model` names Stable
    Diffusion weights for the SD-based methods of the same run, and this method ignores it.
    """

    requirements = ("diffusers", "transformers")
    missing_status = "needs weights"

    def __init__(self, config: dict, *, model: str | None = None, device="cpu"):
        super().__init__(config, model=model, device=device)
        self.settings = dict(config.get(self.name) or {})
        self.tiny = model == TINY_MODEL
        if self.tiny:
            self.settings.update(self.settings.get("tiny") or {})
        elif model is not None:
            logger.info("pbe: --model %s is ignored; Paint-by-Example loads pbe.model=%s", model, self.weights)
        # Loaded here so that missing weights stop the run before its first pair.
        folder = tiny_model_folder() if self.tiny else resolve_model_folder(self.weights, bool(self.settings.get("download")))
        self.pipeline = load_pipeline(folder, self.device)

    @property
    def weights(self) -> str:
        """Return the hub id or folder of the weights, or `tiny`."""
        return TINY_MODEL if self.tiny else str(self.settings.get("model") or DEFAULT_MODEL)

    @property
    def resolution(self) -> int:
        return int(self.settings.get("resolution", 512))

    @classmethod
    def availability(cls, config: dict | None = None) -> tuple[bool, str]:
        settings = dict((config or {}).get(cls.name) or {})
        model = str(settings.get("model") or DEFAULT_MODEL)
        if Path(model).is_dir():
            if (Path(model) / "model_index.json").is_file():
                return True, f"ready: weights in {model}"
            return False, f"{model} has no model_index.json; point pbe.model at a diffusers Paint-by-Example folder"
        if cached_snapshot(model) is not None:
            return True, f"ready: {model} is in the Hugging Face cache"
        return False, (
            f"run `hf download {model}` or set pbe.model to a local folder "
            "(--model tiny runs a random miniature)"
        )

    def identity(self) -> dict:
        identity = super().identity()
        identity["weights"] = self.weights
        return identity

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        pair_id = pair.pair.pair_id
        example, _ = crop_object(pair.reference, pair.reference_mask, f"pair {pair_id} reference")
        if self.settings.get("pad_reference", True):
            example = _pad_to_square(example)
        mask = Image.fromarray(pair.source_mask.astype(np.uint8) * 255, mode="L")

        # A CPU generator gives the same starting noise on every device for a given seed.
        generator = torch.Generator("cpu").manual_seed(seed)
        result = self.pipeline(
            example_image=example,
            image=pair.source.convert("RGB"),
            mask_image=mask,
            height=self.resolution,
            width=self.resolution,
            num_inference_steps=int(self.settings.get("steps", 50)),
            guidance_scale=float(self.settings.get("guidance_scale", 5.0)),
            generator=generator,
        )
        return result.images[0].convert("RGB")


def resolve_model_folder(model: str, download: bool) -> Path:
    """Return the local folder of a Paint-by-Example checkpoint given as a folder or a hub id.

    Raises `ModelNotFoundError` when the folder lacks `model_index.json`, or when the hub id is not
    in the local Hugging Face cache and `download` is false or the hub cannot be reached.
    """
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "model_index.json").is_file():
            raise ModelNotFoundError(f"{path}: no model_index.json; pbe.model must be a diffusers Paint-by-Example folder")
        return path
    if path.is_absolute() or model.startswith("."):
        raise ModelNotFoundError(f"{path}: folder not found; set pbe.model to a Paint-by-Example folder or use --model tiny")

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    patterns = ["model_index.json"] + [f"{folder}/*" for folder in _COMPONENT_FOLDERS]
    try:
        return Path(snapshot_download(model, allow_patterns=patterns, local_files_only=not download))
    except (LocalEntryNotFoundError, HFValidationError, OSError) as error:
        hint = "it is not in the local Hugging Face cache" if not download else f"the download failed ({type(error).__name__})"
        raise ModelNotFoundError(
            f"Paint-by-Example weights {model!r} not found: {hint}; set pbe.model to a local folder "
            "(model_index.json, unet/, vae/, image_encoder/, scheduler/, feature_extractor/), "
            "allow a download with --set pbe.download=true, or use --model tiny"
        ) from error


def load_pipeline(folder: Path, device: torch.device):
    """Load `PaintByExamplePipeline` from a local diffusers folder, each component through its own class.

    NOTE: in diffusers 0.42 the pipeline lives in `pipelines.deprecated`, and its `from_pretrained`
    fails on the image encoder whether model_index.json names its library `paint_by_example` (as
    diffusers releases that kept the pipeline in `pipelines.paint_by_example` saved it) or
    `diffusers` (as 0.42 saves it). Both were tried. So each component is loaded from its
    subfolder and handed to the pipeline's constructor.
    """
    import diffusers
    from diffusers import AutoencoderKL, PaintByExamplePipeline, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor

    index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    scheduler_class = getattr(diffusers, index["scheduler"][1])
    dtype = torch.float16 if device.type == "cuda" else torch.float32

    pipeline = PaintByExamplePipeline(
        vae=AutoencoderKL.from_pretrained(folder, subfolder="vae", torch_dtype=dtype),
        image_encoder=PaintByExampleImageEncoder.from_pretrained(folder, subfolder="image_encoder", torch_dtype=dtype),
        unet=UNet2DConditionModel.from_pretrained(folder, subfolder="unet", torch_dtype=dtype),
        scheduler=scheduler_class.from_pretrained(folder, subfolder="scheduler"),
        # The safety checker would replace some benchmark outputs with black images.
        safety_checker=None,
        feature_extractor=CLIPImageProcessor.from_pretrained(folder, subfolder="feature_extractor"),
        requires_safety_checker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def tiny_model_folder() -> Path:
    """Return the folder of the random miniature Paint-by-Example, building it on first use."""
    folder = cache_root() / f"tiny-paint-by-example-v{_TINY_VERSION}"
    if (folder / "model_index.json").is_file():
        return folder

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tiny-paint-by-example.", dir=folder.parent))
    try:
        build_tiny_pipeline().save_pretrained(staging)
        _write_hub_model_index(staging)
        # The folder gets its final name only once complete. A concurrent build that won the race is identical.
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / "model_index.json").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    logger.info("pbe: built the tiny random Paint-by-Example in %s", folder)
    return folder


def build_tiny_pipeline():
    """Build a Paint-by-Example pipeline with Paint-by-Example's architecture and random weights.

    Like the real UNet, this one takes 9 input channels: 4 latent, 4 masked-image latent and 1
    mask. The VAE halves the resolution once, and the CLIP vision encoder reads 32 x 32 crops.
    Weights are drawn from a fixed seed, so every build is identical.
    """
    from diffusers import AutoencoderKL, PaintByExamplePipeline, PNDMScheduler, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    embedding_size = 32
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        unet = UNet2DConditionModel(
            sample_size=32,
            in_channels=9,
            out_channels=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=embedding_size,
            attention_head_dim=4,
            norm_num_groups=8,
        )
        vae = AutoencoderKL(
            sample_size=64,
            block_out_channels=(16, 32),
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            latent_channels=4,
            norm_num_groups=8,
        )
        vision_config = CLIPVisionConfig(
            hidden_size=embedding_size,
            projection_dim=embedding_size,
            intermediate_size=64,
            num_hidden_layers=4,
            num_attention_heads=4,
            image_size=32,
            patch_size=8,
        )
        image_encoder = PaintByExampleImageEncoder(vision_config, proj_size=embedding_size)

    return PaintByExamplePipeline(
        vae=vae,
        image_encoder=image_encoder,
        unet=unet,
        scheduler=PNDMScheduler(skip_prk_steps=True),
        safety_checker=None,
        feature_extractor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        requires_safety_checker=False,
    )


def _write_hub_model_index(folder: Path) -> None:
    # Name the image encoder's library as older diffusers releases saved it, so the miniature
    # has the layout of published checkpoints rather than the one 0.42 writes.
    path = folder / "model_index.json"
    index = json.loads(path.read_text(encoding="utf-8"))
    index["image_encoder"] = ["paint_by_example", "PaintByExampleImageEncoder"]
    path.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")


def _pad_to_square(image: Image.Image) -> Image.Image:
    side = max(image.size)
    canvas = Image.new("RGB", (side, side), (255, 255, 255))
    canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return canvas
