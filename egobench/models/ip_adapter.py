"""IP-Adapter image tokens for the text energy, loaded through diffusers' own `load_ip_adapter`.

The adapter adds image-token cross-attention to the UNet. The edited branch is conditioned on the
reference object's tokens and the source branch on the source object's, mirroring the two text
prompts. Unconditional and negative predictions get the zero image embedding, as diffusers' pipelines
do for classifier-free guidance.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from transformers import CLIPVisionModelWithProjection

from egobench.errors import ModelNotFoundError

logger = logging.getLogger(__name__)


@dataclass
class ImageTokens:
    """CLIP image embeddings, each (1, 1, D), that the adapter projects into image tokens."""

    unconditional: torch.Tensor
    reference: torch.Tensor
    source: torch.Tensor

    def batch(self, *roles: str) -> dict:
        """Return UNet `added_cond_kwargs` for a batch whose rows have the given roles, in order."""
        return {"image_embeds": [torch.cat([getattr(self, role) for role in roles])]}

    def rows(self, rows: list[tuple[str, int]]) -> dict:
        """Return UNet `added_cond_kwargs` for a batch of (role, pair index) rows, when each role has one row per pair."""
        return {"image_embeds": [torch.cat([getattr(self, role)[index : index + 1] for role, index in rows])]}

    @classmethod
    def concat(cls, tokens: list["ImageTokens"]) -> "ImageTokens":
        """Stack the tokens of several pairs, pair i in row i of each role."""
        return cls(*(torch.cat([getattr(item, role) for item in tokens]) for role in ("unconditional", "reference", "source")))


class IPAdapter:
    """Wraps a UNet that has IP-Adapter processors, and encodes object crops into image tokens."""

    def __init__(self, pipeline: StableDiffusionPipeline):
        self.pipeline = pipeline

    def tokens(self, source: Image.Image, source_mask: np.ndarray, reference: Image.Image, reference_mask: np.ndarray) -> ImageTokens:
        """Encode the source and reference objects, each cropped to its mask's bounding box."""
        device = self.pipeline.unet.device
        crops = [mask_box_crop(source, source_mask), mask_box_crop(reference, reference_mask)]
        with torch.no_grad():
            embeddings, unconditional = self.pipeline.encode_image(crops, device, 1)
        dtype = self.pipeline.unet.dtype
        return ImageTokens(
            unconditional=unconditional[:1, None].to(dtype),
            reference=embeddings[1:2, None].to(dtype),
            source=embeddings[0:1, None].to(dtype),
        )


def mask_box_crop(image: Image.Image, mask: np.ndarray) -> Image.Image:
    """Crop `image` to the bounding box of a boolean mask; an empty mask keeps the whole image."""
    rows = np.flatnonzero(mask.any(axis=1))
    columns = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return image
    return image.crop((int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1))


def load_ip_adapter(sd, settings) -> IPAdapter:
    """Attach IP-Adapter weights to `sd.unet` and load the CLIP image encoder.

    `settings.path` is a hub id, a local folder (laid out like h94/IP-Adapter: `<subfolder>/<weight_name>`
    and `<subfolder>/image_encoder/`), or a state-dict file (.bin or .safetensors). A state-dict file
    needs `settings.image_encoder`, a CLIP vision folder.
    """
    pipeline = StableDiffusionPipeline(
        vae=sd.vae,
        text_encoder=sd.text_encoder,
        tokenizer=sd.tokenizer,
        unet=sd.unet,
        scheduler=sd.scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )
    path = Path(settings.path).expanduser()
    try:
        if settings.image_encoder:
            encoder = CLIPVisionModelWithProjection.from_pretrained(settings.image_encoder, torch_dtype=sd.dtype).to(sd.device)
            pipeline.register_modules(image_encoder=encoder)
        if path.is_file():
            if pipeline.image_encoder is None:
                raise ModelNotFoundError(f"{path}: a state-dict IP-Adapter needs ego.ip_adapter.image_encoder, a CLIP vision model folder")
            pipeline.load_ip_adapter(str(path.parent), subfolder="", weight_name=path.name)
        else:
            pipeline.load_ip_adapter(settings.path, subfolder=settings.subfolder, weight_name=settings.weight_name)
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelNotFoundError(
            f"IP-Adapter {settings.path!r} could not be loaded ({first_line}); pass a local folder or state-dict file to --ip-adapter"
        ) from error
    pipeline.set_ip_adapter_scale(settings.scale)
    sd.unet.requires_grad_(False)
    pipeline.image_encoder.requires_grad_(False)
    logger.info("loaded IP-Adapter %s (scale %.2f)", settings.path, settings.scale)
    return IPAdapter(pipeline)
