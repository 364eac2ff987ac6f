"""Loading Stable Diffusion components from a hub id, a local diffusers folder, or a random miniature."""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from diffusers.utils import logging as diffusers_logging
from transformers.utils import logging as transformers_logging
from transformers import CLIPTextModel, CLIPTokenizer

from egobench.errors import ModelNotFoundError
from egobench.models.paths import check_diffusers_folder, check_model_path
from egobench.models.tiny import ARCHITECTURES, cached_random_folder, random_components, random_model_folder

logger = logging.getLogger(__name__)

DEFAULT_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")


@dataclass
class StableDiffusion:
    """The frozen parts of an SD 1.x model that energy-guided editing needs."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    scheduler: DDPMScheduler
    model_id: str

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def resolution(self) -> int:
        """Native image side in pixels: the UNet's sample size times the VAE's downsampling."""
        return self.unet.config.sample_size * self.vae_scale_factor

    @property
    def device(self) -> torch.device:
        return self.unet.device

    @property
    def dtype(self) -> torch.dtype:
        return self.unet.dtype

    def alphas_cumprod(self) -> torch.Tensor:
        """Return the cumulative products of alphas (alpha-bar_t), float32, on the model's device."""
        return self.scheduler.alphas_cumprod.to(device=self.device, dtype=torch.float32)

    @torch.no_grad()
    def encode_prompts(self, prompts: list[str]) -> torch.Tensor:
        """Encode prompts to CLIP hidden states of shape (len(prompts), 77, hidden)."""
        tokens = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.tokenizer.model_max_length if self.tokenizer.model_max_length < 10_000 else 77,
            truncation=True,
            return_tensors="pt",
        )
        return self.text_encoder(tokens.input_ids.to(self.device))[0].to(self.dtype)

    @torch.no_grad()
    def encode_image(self, pixels: torch.Tensor) -> torch.Tensor:
        """Encode images in [-1, 1], shape (B, 3, H, W), to scaled latents (B, 4, H/8, W/8) (posterior mean)."""
        latent = self.vae.encode(pixels.to(self.device, self.vae.dtype)).latent_dist.mean
        return latent.float() * self.vae.config.scaling_factor

    @torch.no_grad()
    def decode_latent(self, latent: torch.Tensor) -> torch.Tensor:
        """Decode scaled latents (B, 4, h, w) to images in [-1, 1], shape (B, 3, 8h, 8w)."""
        scaled = latent.to(self.vae.dtype) / self.vae.config.scaling_factor
        return self.vae.decode(scaled).sample.float().clamp(-1, 1)


def load_stable_diffusion(
    model: str = DEFAULT_MODEL, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32, *, save_random: bool = True
) -> StableDiffusion:
    """Load SD components from `model`: `tiny`, `sd15-random`, a local diffusers folder, or a hub id.

    `save_random=False` builds a random-weight architecture in memory unless its cached folder
    already exists, which spares writing the 4 GB of `sd15-random` to disk for one profiling run.
    Raises ModelNotFoundError with one line naming the fix when the weights are neither local nor
    downloadable; there is no silent fallback to another model.
    """
    if model in ARCHITECTURES and not save_random and not (cached_random_folder(model) / "model_index.json").is_file():
        parts = _build_in_memory(model, dtype)
    elif model in ARCHITECTURES:
        folder = random_model_folder(model)
        parts = _load_components(str(folder), model, dtype)
    elif Path(model).expanduser().exists():
        folder = Path(model).expanduser()
        check_diffusers_folder(folder)
        parts = _load_components(str(folder), model, dtype)
    else:
        check_model_path(model)
        parts = _load_components(model, model, dtype)

    for module in (parts.unet, parts.vae, parts.text_encoder):
        module.requires_grad_(False)
        module.eval()
        module.to(device=device)
    logger.info("loaded model %s on %s (%s px)", model, device, parts.resolution)
    return parts


def _build_in_memory(architecture: str, dtype: torch.dtype) -> StableDiffusion:
    logger.info("building random-weight %s model in memory", architecture)
    with tempfile.TemporaryDirectory(prefix="egobench-tokenizer-") as folder:
        unet, vae, text_encoder, tokenizer, scheduler = random_components(architecture, Path(folder))
    if dtype != torch.float32:
        unet, vae, text_encoder = unet.to(dtype), vae.to(dtype), text_encoder.to(dtype)
    return StableDiffusion(unet, vae, text_encoder, tokenizer, scheduler, architecture)


def _load_components(source: str, model_id: str, dtype: torch.dtype) -> StableDiffusion:
    diffusers_logging.disable_progress_bar()
    transformers_logging.disable_progress_bar()
    try:
        unet = UNet2DConditionModel.from_pretrained(source, subfolder="unet", torch_dtype=dtype)
        vae = AutoencoderKL.from_pretrained(source, subfolder="vae", torch_dtype=dtype)
        text_encoder = CLIPTextModel.from_pretrained(source, subfolder="text_encoder", torch_dtype=dtype)
        tokenizer = CLIPTokenizer.from_pretrained(source, subfolder="tokenizer")
        scheduler = DDPMScheduler.from_pretrained(source, subfolder="scheduler")
    except OSError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelNotFoundError(
            f"model {model_id!r} could not be loaded ({first_line}); with no network, download it into a local "
            "folder and pass --model PATH, or use --model tiny for a random-weight smoke run"
        ) from error
    return StableDiffusion(unet, vae, text_encoder, tokenizer, scheduler, model_id)
