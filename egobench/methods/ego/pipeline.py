"""EGO-Edit: energy-guided optimisation of a Stable Diffusion latent toward a reference object.

The edited latent starts at the source image's latent (no inversion) and takes `steps` gradient
steps. Each step draws one noise sample, shared by the edited, source and reference branches, at
the timestep the coarse-to-fine schedule gives, and descends

    E = eta_1 * D_txt (text energy) + eta_2 * D_img (image energy),

with the text-energy gradient truncated to the source mask and the image-energy gradient smoothed
outside it (gradient scaling). Image energy joins once t <= image_energy.start_t. Inside the content
composition window, every `interval` steps the matched reference latents are copied in.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from egobench.benches.base import LoadedPair
from egobench.errors import ConfigError
from egobench.methods import register_method
from egobench.methods.base import EditMethod
from egobench.methods.ego.content_composition import content_composition
from egobench.methods.ego.gradient_scaling import background_gradient_smoothing, background_gradient_truncation
from egobench.methods.ego.image_energy import DISTANCES, image_energy
from egobench.methods.ego.settings import EgoSettings
from egobench.methods.ego.spatial import downsample_mask
from egobench.methods.ego.text_energy import PromptEmbeddings, noise_weight, text_energy_gradient
from egobench.methods.ego.timestep_schedule import timestep_schedule
from egobench.models.hub import cached_snapshot
from egobench.models.stable_diffusion import DEFAULT_MODEL, StableDiffusion, load_stable_diffusion

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_FEATURE_PROMPTS = ("target", "reference", "empty")


@dataclass
class IterationRecord:
    """The energies and gradient norms of one optimisation step, written to the pair's trace file."""

    iteration: int
    timestep: int
    text_gradient_norm: float
    image_energy: float | None
    image_gradient_norm: float | None
    composed: bool


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


@register_method("ego")
class EgoEdit(EditMethod):
    """EGO-Edit on an SD 1.x model; settings come from the preset's `ego:` section."""

    requirements = ("Stable Diffusion 1.5 weights (hub id or local diffusers folder), or --model tiny",)

    def __init__(self, config: dict, *, model: str | None = None, device="cpu", sd: StableDiffusion | None = None):
        super().__init__(config, model=model or DEFAULT_MODEL, device=device)
        self.settings = EgoSettings.from_dict(config.get("ego", {}))
        _validate(self.settings)
        dtype = _DTYPES[self.settings.dtype]
        self.sd = sd or load_stable_diffusion(self.model, device=self.device, dtype=dtype)
        self.ip_adapter = None
        if self.settings.ip_adapter.path:
            from egobench.models.ip_adapter import load_ip_adapter

            self.ip_adapter = load_ip_adapter(self.sd, self.settings.ip_adapter)
        self.trace: list[IterationRecord] = []

    @classmethod
    def availability(cls, config: dict | None = None) -> tuple[bool, str]:
        """Report whether the default SD 1.5 weights are in the local Hugging Face cache."""
        if cached_snapshot(DEFAULT_MODEL) is not None:
            return True, f"ready: {DEFAULT_MODEL} is in the Hugging Face cache"
        return False, f"run `hf download {DEFAULT_MODEL}` or pass --model PATH to a local folder (--model tiny runs a random miniature)"

    @property
    def resolution(self) -> int:
        return self.settings.resolution or self.sd.resolution

    def identity(self) -> dict:
        return {"method": self.name, "model": self.model, "settings": self.settings.to_dict()}

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        latent = self.optimise(pair, seed)
        return tensor_to_image(self.sd.decode_latent(latent))

    def optimise(self, pair: LoadedPair, seed: int) -> torch.Tensor:
        """Run the energy-guided optimisation and return the edited latent, (1, 4, h, w)."""
        settings = self.settings
        sd = self.sd
        device = sd.device
        self.trace = []

        # 1. Images and masks as tensors; masks are also needed at latent resolution.
        source = image_to_tensor(pair.source).to(device)
        reference = image_to_tensor(pair.reference).to(device)
        source_mask = mask_to_tensor(pair.source_mask).to(device)
        reference_mask = mask_to_tensor(pair.reference_mask).to(device)

        # 2. The optimised latent starts at the source latent: no inversion.
        source_latent = sd.encode_image(source)
        reference_latent = sd.encode_image(reference)
        latent = source_latent.clone()
        latent_mask = downsample_mask(source_mask, tuple(latent.shape[-2:])).float()

        # 3. Prompt embeddings, one text-encoder call.
        prompts, feature_prompt = self._encode_prompts(pair)
        image_tokens = None
        feature_tokens = None
        if self.ip_adapter is not None:
            image_tokens = self.ip_adapter.tokens(pair.source, pair.source_mask, pair.reference, pair.reference_mask)
            feature_tokens = image_tokens.batch("reference")

        # 4. The coarse-to-fine schedule and the noise stream.
        timesteps = timestep_schedule(settings.schedule.kind, settings.steps, settings.schedule.t_max, settings.schedule.t_min, seed)
        alphas_cumprod = sd.alphas_cumprod()
        generator = torch.Generator(device="cpu").manual_seed(seed)
        composition = settings.content_composition
        window_steps = 0

        for iteration, timestep in enumerate(timesteps):
            alpha_bar = alphas_cumprod[timestep]
            noise = torch.randn(latent.shape, generator=generator).to(device)
            edited_noisy = alpha_bar.sqrt() * latent + (1 - alpha_bar).sqrt() * noise
            source_noisy = alpha_bar.sqrt() * source_latent + (1 - alpha_bar).sqrt() * noise
            reference_noisy = alpha_bar.sqrt() * reference_latent + (1 - alpha_bar).sqrt() * noise
            gradient = torch.zeros_like(latent)
            record = IterationRecord(iteration, timestep, 0.0, None, None, False)

            # 5. Text energy (throughout), truncated to the source mask.
            if settings.text_energy.enabled:
                text_gradient = text_energy_gradient(
                    sd.unet,
                    edited_noisy,
                    source_noisy,
                    timestep,
                    prompts,
                    settings.text_energy.guidance_scale,
                    settings.text_energy.negative_weight,
                    image_tokens,
                )
                text_gradient = noise_weight(settings.text_energy.noise_weighting, alpha_bar) * text_gradient
                if settings.gradient_scaling.truncation:
                    text_gradient = background_gradient_truncation(text_gradient, latent_mask)
                gradient = gradient + settings.text_energy.weight * text_gradient
                record.text_gradient_norm = float(text_gradient.norm())

            # 6. Image energy from the middle stage on; content composition needs its matches too.
            image_energy_active = settings.image_energy.enabled and timestep <= settings.image_energy.start_t
            in_window = composition.enabled and composition.start_t - composition.window < timestep <= composition.start_t
            compose_now = in_window and window_steps % composition.interval == 0
            window_steps += int(in_window)
            energy = None
            if image_energy_active or compose_now:
                energy = image_energy(
                    sd.unet,
                    latent,
                    reference_noisy,
                    noise,
                    alpha_bar,
                    timestep,
                    feature_prompt,
                    source_mask,
                    reference_mask,
                    settings.image_energy.up_block,
                    settings.image_energy.distance,
                    with_gradient=image_energy_active,
                    added_cond_kwargs=feature_tokens,
                )
                record.image_energy = float(energy.loss)
            if image_energy_active:
                image_gradient = energy.gradient
                if settings.gradient_scaling.smoothing:
                    image_gradient = background_gradient_smoothing(image_gradient, latent_mask, settings.gradient_scaling.smoothing_sigma)
                gradient = gradient + settings.image_energy.weight * image_gradient
                record.image_gradient_norm = float(image_gradient.norm())

            # 7. One gradient-descent step on the clean latent.
            latent = latent - settings.learning_rate * gradient
            if not torch.isfinite(latent).all():
                raise FloatingPointError(f"the latent became non-finite at iteration {iteration} (t={timestep}); lower ego.learning_rate")

            # 8. Content composition at an interval inside its window.
            if compose_now:
                latent = content_composition(latent, reference_latent, energy.matches, latent_mask)
                record.composed = True

            self.trace.append(record)
            logger.debug("iteration %d t=%d text=%.4f image=%s", iteration, timestep, record.text_gradient_norm, record.image_energy)

        return latent

    def _encode_prompts(self, pair: LoadedPair) -> tuple[PromptEmbeddings, torch.Tensor]:
        text = self.settings.text_energy
        target = pair.pair.target_prompt
        texts = ["", target, pair.pair.source_prompt, pair.pair.reference_prompt]
        use_negative = bool(text.negative_prompt) and text.negative_weight != 0
        if use_negative:
            texts.append(text.negative_prompt)
        embeddings = self.sd.encode_prompts(texts)
        prompts = PromptEmbeddings(
            unconditional=embeddings[0:1],
            reference=embeddings[1:2],
            source=embeddings[2:3],
            negative=embeddings[4:5] if use_negative else None,
        )
        feature_prompt = {"target": embeddings[1:2], "reference": embeddings[3:4], "empty": embeddings[0:1]}[self.settings.image_energy.feature_prompt]
        return prompts, feature_prompt


def _validate(settings: EgoSettings) -> None:
    if settings.dtype not in _DTYPES:
        raise ConfigError(f"ego.dtype={settings.dtype!r} is invalid; choose one of {', '.join(_DTYPES)}")
    if settings.image_energy.distance not in DISTANCES:
        raise ConfigError(f"ego.image_energy.distance={settings.image_energy.distance!r} is invalid; choose one of {', '.join(DISTANCES)}")
    if settings.image_energy.feature_prompt not in _FEATURE_PROMPTS:
        raise ConfigError(f"ego.image_energy.feature_prompt={settings.image_energy.feature_prompt!r} is invalid; choose one of {', '.join(_FEATURE_PROMPTS)}")
    if settings.content_composition.interval < 1:
        raise ConfigError("ego.content_composition.interval must be at least 1")
    if settings.content_composition.window < 1:
        raise ConfigError("ego.content_composition.window must be at least 1")
    if settings.text_energy.noise_weighting not in ("constant", "sds"):
        raise ConfigError("ego.text_energy.noise_weighting must be 'constant' or 'sds'")
    # Validate the schedule now so that a bad preset fails before any pair starts.
    timestep_schedule(settings.schedule.kind, settings.steps, settings.schedule.t_max, settings.schedule.t_min)
