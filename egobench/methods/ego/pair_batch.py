"""The per-pair inputs of an EGO-Edit optimisation, stacked so that P pairs run as one batch.

Row i of every tensor belongs to pair i. Each pair is encoded on its own (VAE, text encoder,
IP-Adapter image encoder), so a pair's inputs are the same whether it runs alone or in a batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from egobench.benches.base import LoadedPair
from egobench.methods.ego.reuse_cache import tensor_digest
from egobench.methods.ego.spatial import downsample_mask
from egobench.methods.ego.text_energy import PromptEmbeddings


def image_to_tensor(image: Image.Image) -> torch.Tensor:
    """Convert an RGB PIL image to a (1, 3, H, W) float tensor in [-1, 1]."""
    array = np.asarray(image.convert("RGB"), dtype=np.float32) / 127.5 - 1.0
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)


def tensor_to_image(tensor: torch.Tensor) -> Image.Image:
    """Convert a (1, 3, H, W) tensor in [-1, 1] to an RGB PIL image."""
    array = ((tensor[0].permute(1, 2, 0).cpu().numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
    return Image.fromarray(array, mode="RGB")


def mask_to_tensor(mask: np.ndarray) -> torch.Tensor:
    """Convert a boolean (H, W) mask to a (1, 1, H, W) float tensor of 0 and 1."""
    return torch.from_numpy(mask.astype(np.float32))[None, None]


@dataclass
class PairBatch:
    """Latents (P, 4, h, w), masks (P, 1, H, W) and (P, 1, h, w), prompts (P, 77, D) and image tokens of P pairs."""

    pairs: list[LoadedPair]
    source_latent: torch.Tensor
    reference_latent: torch.Tensor
    source_mask: torch.Tensor
    reference_mask: torch.Tensor
    latent_mask: torch.Tensor
    prompts: PromptEmbeddings
    feature_prompt: torch.Tensor
    image_tokens: object | None = None
    feature_tokens: dict | None = None
    digests: "PairDigests | None" = None

    def __len__(self) -> int:
        return len(self.pairs)


@dataclass
class PairDigests:
    """Content digests of each pair's inputs, one string per pair, for reuse-cache keys."""

    source_latent: list[str]
    reference_latent: list[str]
    prompts: dict[str, list[str]]
    tokens: dict[str, list[str]]

    @classmethod
    def of(cls, batch: PairBatch) -> "PairDigests":
        rows = range(len(batch))
        prompts = {
            "unconditional": [tensor_digest(batch.prompts.unconditional[i]) for i in rows],
            "source": [tensor_digest(batch.prompts.source[i]) for i in rows],
            "feature": [tensor_digest(batch.feature_prompt[i]) for i in rows],
        }
        tokens = {role: [""] * len(batch) for role in ("unconditional", "reference", "source")}
        if batch.image_tokens is not None:
            tokens = {role: [tensor_digest(getattr(batch.image_tokens, role)[i]) for i in rows] for role in tokens}
        return cls(
            source_latent=[tensor_digest(batch.source_latent[i]) for i in rows],
            reference_latent=[tensor_digest(batch.reference_latent[i]) for i in rows],
            prompts=prompts,
            tokens=tokens,
        )


def latent_masks(source_mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Downsample each pair's source mask to latent size on its own (a small object keeps a cell per pair)."""
    return torch.cat([downsample_mask(mask[None], size).float() for mask in source_mask])
