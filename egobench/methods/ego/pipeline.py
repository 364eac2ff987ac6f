"""EGO-Edit: energy-guided optimisation of a Stable Diffusion latent toward a reference object.

The edited latent starts at the source image's latent (no inversion) and takes `steps` gradient
steps. Each step draws one noise sample, shared by the edited, source and reference branches, at
the timestep the coarse-to-fine schedule gives, and descends

    E = eta_1 * D_txt (text energy) + eta_2 * D_img (image energy),

with the text-energy gradient truncated to the source mask and the image-energy gradient smoothed
outside it (gradient scaling). Image energy joins once t <= image_energy.start_t. Inside the content
composition window, every `interval` steps the matched reference latents are copied in.

Several pairs can run as one batch (`optimise_batch`): every UNet call then carries all pairs, and
each pair keeps its own noise stream, masks and prompts, so its result equals its single-pair run
up to float rounding. The work each step needs is written down in `egobench.profiling.least_work`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from PIL import Image

from egobench.benches.base import LoadedPair
from egobench.errors import ConfigError, EgobenchError
from egobench.methods import register_method
from egobench.methods.base import EditMethod
from egobench.methods.ego.content_composition import content_composition
from egobench.methods.ego.gradient_scaling import background_gradient_smoothing, background_gradient_truncation
from egobench.methods.ego.image_energy import DISTANCES, image_energy, unet_features
from egobench.methods.ego.pair_batch import PairBatch, PairDigests, image_to_tensor, latent_masks, mask_to_tensor, tensor_to_image
from egobench.methods.ego.reuse_cache import ReuseCache, cache_for, tensor_digest
from egobench.methods.ego.runtime import Runtime
from egobench.methods.ego.settings import EgoSettings
from egobench.methods.ego.text_energy import SOURCE_ROLES, PromptEmbeddings, combine_text_energy, noise_weight, predict_text_energy
from egobench.methods.ego.timestep_schedule import timestep_schedule
from egobench.models.hub import cached_snapshot
from egobench.models.stable_diffusion import DEFAULT_MODEL, StableDiffusion, load_stable_diffusion
from egobench.profiling.stages import iteration as profiled_iteration
from egobench.profiling.stages import stage

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_FEATURE_PROMPTS = ("target", "reference", "empty")
# Failures that end one pair of a batch and not the others, as the runner counts them.
_PAIR_ERRORS = (EgobenchError, FloatingPointError, OSError, ValueError, RuntimeError)

__all__ = ["EgoEdit", "IterationRecord", "image_to_tensor", "mask_to_tensor", "tensor_to_image"]


@dataclass
class IterationRecord:
    """The energies and gradient norms of one optimisation step, written to the pair's trace file."""

    iteration: int
    timestep: int
    text_gradient_norm: float
    image_energy: float | None
    image_gradient_norm: float | None
    composed: bool


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
        self.runtime = Runtime(self.settings.runtime, self.sd.device)
        self.runtime.prepare(self.sd.unet)
        self.ip_adapter = None
        if self.settings.ip_adapter.path:
            from egobench.models.ip_adapter import load_ip_adapter

            self.ip_adapter = load_ip_adapter(self.sd, self.settings.ip_adapter)
        self.cache: ReuseCache | None = None
        if self.settings.runtime.reuse_cache_mib > 0:
            self.cache = cache_for(self.sd.unet, self.settings.runtime.reuse_cache_mib * 2**20)
        self.trace: list[IterationRecord] = []
        self.traces: list[list[IterationRecord]] = []
        self._pair_traces: dict[str, list[IterationRecord]] = {}

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

    @property
    def pairs_per_call(self) -> int:
        """How many pairs the runner hands to `edit_batch` at once: `ego.runtime.pairs_per_batch`."""
        return self.settings.runtime.pairs_per_batch

    @property
    def pair_traces(self) -> dict[str, list[IterationRecord]]:
        """The trace of each pair of the last `edit_batch`, by pair id."""
        return self._pair_traces

    def edit(self, pair: LoadedPair, seed: int) -> Image.Image:
        return self._edit_together([pair], seed)[0]

    def edit_batch(self, pairs: list[LoadedPair], seed: int, work_dir=None) -> list[Image.Image | Exception]:
        """Edit several pairs as one batch and return each pair's image, or the error that ended it.

        When the batch fails (a non-finite latent, say), its pairs are edited again one by one, so
        the error is charged to the pair that caused it. `work_dir` is unused; the runner passes
        it to every batching method.
        """
        try:
            return self._edit_together(pairs, seed)
        except _PAIR_ERRORS as error:
            if len(pairs) == 1:
                return [error]
            logger.info("a batch of %d pairs failed (%s); editing them one by one", len(pairs), str(error).splitlines()[0])

        results: list[Image.Image | Exception] = []
        traces = {}
        for pair in pairs:
            try:
                results.append(self._edit_together([pair], seed)[0])
            except _PAIR_ERRORS as error:
                results.append(error)
            traces.update(self._pair_traces)
        self._pair_traces = traces
        return results

    def _edit_together(self, pairs: list[LoadedPair], seed: int) -> list[Image.Image]:
        latents = self.optimise_batch(pairs, seed)
        with stage("vae_decode"):
            pixels = [self.sd.decode_latent(latent) for latent in latents]
        return [tensor_to_image(image) for image in pixels]

    def optimise(self, pair: LoadedPair, seed: int) -> torch.Tensor:
        """Run the energy-guided optimisation and return the edited latent, (1, 4, h, w)."""
        return self.optimise_batch([pair], seed)[0]

    def optimise_batch(self, pairs: list[LoadedPair], seed: int) -> list[torch.Tensor]:
        """Optimise P pairs together and return each pair's edited latent, (1, 4, h, w).

        Raises FloatingPointError naming the pair whose latent became non-finite.
        """
        settings = self.settings
        sd = self.sd
        device = sd.device
        self.traces = [[] for _ in pairs]
        self.trace = self.traces[0]
        self._pair_traces = {pair.pair.pair_id: trace for pair, trace in zip(pairs, self.traces)}

        # 1-3. Latents, masks, prompts and image tokens of every pair; the optimised latents start
        # at the source latents: no inversion.
        batch = self._prepare(pairs)
        latent = batch.source_latent.clone()

        # 4. The coarse-to-fine schedule, and one noise stream per pair so that a pair draws the
        # same noise alone or in a batch.
        timesteps = timestep_schedule(settings.schedule.kind, settings.steps, settings.schedule.t_max, settings.schedule.t_min, seed)
        alphas_cumprod = sd.alphas_cumprod()
        generators = [torch.Generator(device="cpu").manual_seed(seed) for _ in pairs]
        composition = settings.content_composition
        window_steps = 0

        for iteration, timestep in enumerate(timesteps):
            with profiled_iteration(iteration, timestep):
                alpha_bar = alphas_cumprod[timestep]
                noises = [torch.randn((1, *latent.shape[1:]), generator=generator) for generator in generators]
                noise_digests = [tensor_digest(noise) for noise in noises] if self.cache is not None else None
                noise = torch.cat(noises).to(device)
                records = [IterationRecord(iteration, timestep, 0.0, None, None, False) for _ in pairs]

                # 5. Image energy from the middle stage on; content composition needs its matches too.
                image_energy_active = settings.image_energy.enabled and timestep <= settings.image_energy.start_t
                in_window = composition.enabled and composition.start_t - composition.window < timestep <= composition.start_t
                compose_now = in_window and window_steps % composition.interval == 0
                window_steps += int(in_window)
                share_prefix = self._shares_prefix()
                energy = None
                if image_energy_active or compose_now:
                    reference_noisy = alpha_bar.sqrt() * batch.reference_latent + (1 - alpha_bar).sqrt() * noise
                    reference_features = self._reference_features(batch, reference_noisy, timestep, noise_digests)
                    energy = image_energy(
                        sd.unet,
                        latent,
                        reference_noisy,
                        noise,
                        alpha_bar,
                        timestep,
                        batch.feature_prompt,
                        batch.source_mask,
                        batch.reference_mask,
                        settings.image_energy.up_block,
                        settings.image_energy.distance,
                        with_gradient=image_energy_active,
                        reference_features=reference_features,
                        added_cond_kwargs=batch.feature_tokens,
                        finish_prediction=share_prefix,
                        forward_context=self.runtime.autocast,
                    )
                    for record, loss in zip(records, energy.losses.tolist()):
                        record.image_energy = loss

                # 6. Text energy (throughout), truncated to the source mask.
                gradient = torch.zeros_like(latent)
                if settings.text_energy.enabled:
                    text_gradient = self._text_energy(batch, latent, noise, alpha_bar, timestep, noise_digests, energy if share_prefix else None)
                    if settings.gradient_scaling.truncation:
                        with stage("gradient_scaling"):
                            text_gradient = background_gradient_truncation(text_gradient, batch.latent_mask)
                    gradient = gradient + settings.text_energy.weight * text_gradient
                    for record, norm in zip(records, text_gradient.flatten(1).norm(dim=1).tolist()):
                        record.text_gradient_norm = norm

                if image_energy_active:
                    image_gradient = energy.gradient
                    if settings.gradient_scaling.smoothing:
                        with stage("gradient_scaling"):
                            image_gradient = background_gradient_smoothing(image_gradient, batch.latent_mask, settings.gradient_scaling.smoothing_sigma)
                    gradient = gradient + settings.image_energy.weight * image_gradient
                    for record, norm in zip(records, image_gradient.flatten(1).norm(dim=1).tolist()):
                        record.image_gradient_norm = norm

                # 7. One gradient-descent step on the clean latents.
                latent = latent - settings.learning_rate * gradient
                finite = torch.isfinite(latent.flatten(1)).all(dim=1).tolist()
                if not all(finite):
                    failed = ", ".join(pair.pair.pair_id for pair, ok in zip(pairs, finite) if not ok)
                    raise FloatingPointError(f"the latent of {failed} became non-finite at iteration {iteration} (t={timestep}); lower ego.learning_rate")

                # 8. Content composition at an interval inside its window, pair by pair.
                if compose_now:
                    with stage("content_composition"):
                        latent = torch.cat(
                            [
                                content_composition(latent[i : i + 1], batch.reference_latent[i : i + 1], energy.pair_matches[i], batch.latent_mask[i : i + 1])
                                for i in range(len(pairs))
                            ]
                        )
                    for record in records:
                        record.composed = True

                for trace, record in zip(self.traces, records):
                    trace.append(record)
                logger.debug("iteration %d t=%d text=%.4f image=%s", iteration, timestep, records[0].text_gradient_norm, records[0].image_energy)

        return [latent[i : i + 1] for i in range(len(pairs))]

    def _prepare(self, pairs: list[LoadedPair]) -> PairBatch:
        sd = self.sd
        device = sd.device
        with stage("vae_encode"):
            # One VAE call per image keeps each pair's latent identical to its single-pair run.
            source_latent = torch.cat([sd.encode_image(image_to_tensor(pair.source).to(device)) for pair in pairs])
            reference_latent = torch.cat([sd.encode_image(image_to_tensor(pair.reference).to(device)) for pair in pairs])
        source_mask = torch.cat([mask_to_tensor(pair.source_mask) for pair in pairs]).to(device)
        reference_mask = torch.cat([mask_to_tensor(pair.reference_mask) for pair in pairs]).to(device)

        with stage("prompt_encode"):
            encoded = [self._encode_prompts(pair) for pair in pairs]
        negatives = [prompts.negative for prompts, _ in encoded]
        prompts = PromptEmbeddings(
            unconditional=torch.cat([prompts.unconditional for prompts, _ in encoded]),
            reference=torch.cat([prompts.reference for prompts, _ in encoded]),
            source=torch.cat([prompts.source for prompts, _ in encoded]),
            negative=None if negatives[0] is None else torch.cat(negatives),
        )

        batch = PairBatch(
            pairs=pairs,
            source_latent=source_latent,
            reference_latent=reference_latent,
            source_mask=source_mask,
            reference_mask=reference_mask,
            latent_mask=latent_masks(source_mask, tuple(source_latent.shape[-2:])),
            prompts=prompts,
            feature_prompt=torch.cat([feature_prompt for _, feature_prompt in encoded]),
        )
        if self.ip_adapter is not None:
            from egobench.models.ip_adapter import ImageTokens

            tokens = [self.ip_adapter.tokens(pair.source, pair.source_mask, pair.reference, pair.reference_mask) for pair in pairs]
            batch.image_tokens = ImageTokens.concat(tokens)
            batch.feature_tokens = batch.image_tokens.batch("reference")
        if self.cache is not None:
            batch.digests = PairDigests.of(batch)
        return batch

    def _shares_prefix(self) -> bool:
        """Return whether eps(x~_t, y_ref) can be finished from the feature forward (same latent, prompt and tokens)."""
        settings = self.settings
        return settings.runtime.share_prefix and settings.text_energy.enabled and settings.image_energy.feature_prompt == "target"

    def _model_tag(self) -> str:
        adapter = self.settings.ip_adapter
        return f"{self.model}|{self.sd.dtype}|{self.runtime.tag}|ip={adapter.path}:{adapter.scale}"

    def _reference_features(self, batch: PairBatch, reference_noisy: torch.Tensor, timestep: int, noise_digests: list[str] | None) -> torch.Tensor:
        """Return F_ref (P, C, h_f, w_f), taken from the reuse cache for the pairs it contains."""
        up_block = self.settings.image_energy.up_block
        keys = [None] * len(batch)
        found: dict[int, torch.Tensor] = {}
        if self.cache is not None:
            digests = batch.digests
            for i in range(len(batch)):
                keys[i] = (
                    "reference_features",
                    self._model_tag(),
                    up_block,
                    digests.reference_latent[i],
                    noise_digests[i],
                    timestep,
                    digests.prompts["feature"][i],
                    digests.tokens["reference"][i],
                )
                cached = self.cache.get(keys[i])
                if cached is not None:
                    found[i] = cached
        missing = [i for i in range(len(batch)) if i not in found]
        if missing:
            tokens = None
            if batch.image_tokens is not None:
                tokens = batch.image_tokens.rows([("reference", i) for i in missing])
            with stage("reference_features"), self.runtime.no_grad():
                features = unet_features(self.sd.unet, reference_noisy[missing], timestep, batch.feature_prompt[missing], up_block, tokens)
            for position, i in enumerate(missing):
                found[i] = features[position : position + 1].clone()
                if self.cache is not None:
                    self.cache.put(keys[i], found[i])
        return torch.cat([found[i] for i in range(len(batch))])

    def _text_energy(self, batch, latent, noise, alpha_bar, timestep, noise_digests, energy) -> torch.Tensor:
        """Return the weighted text-energy gradient (P, 4, h, w), reusing cached and shared predictions."""
        text = self.settings.text_energy
        use_negative = batch.prompts.negative is not None and text.negative_weight != 0
        edited_noisy = alpha_bar.sqrt() * latent + (1 - alpha_bar).sqrt() * noise
        source_noisy = alpha_bar.sqrt() * batch.source_latent + (1 - alpha_bar).sqrt() * noise

        known: dict[tuple[str, int], torch.Tensor] = {}
        if energy is not None and energy.prediction is not None:
            known.update({("edited_reference", i): energy.prediction[i : i + 1] for i in range(len(batch))})
        keys = self._source_prediction_keys(batch, timestep, noise_digests) if self.cache is not None else []
        for i, key in enumerate(keys):
            cached = self.cache.get(key)
            if cached is not None:
                known.update({(role, i): cached[row : row + 1] for row, role in enumerate(SOURCE_ROLES)})

        # NOTE: with cache hits the batch has fewer rows, and CPU kernels round differently for
        # another batch size, so a reused run matches a fresh one to float rounding, not bitwise.
        with self.runtime.no_grad():
            predictions = predict_text_energy(self.sd.unet, edited_noisy, source_noisy, timestep, batch.prompts, use_negative, batch.image_tokens, known)
        for i, key in enumerate(keys):
            if ("source_unconditional", i) not in known:
                self.cache.put(key, torch.cat([predictions[role][i : i + 1] for role in SOURCE_ROLES]))

        gradient = combine_text_energy(predictions, text.guidance_scale, text.negative_weight)
        return noise_weight(text.noise_weighting, alpha_bar) * gradient

    def _source_prediction_keys(self, batch: PairBatch, timestep: int, noise_digests: list[str]) -> list[tuple]:
        """Return each pair's reuse-cache key for eps(x^src_t) and eps(x^src_t, y_src), stored together."""
        digests = batch.digests
        return [
            (
                "source_predictions",
                self._model_tag(),
                digests.source_latent[i],
                noise_digests[i],
                timestep,
                digests.prompts["unconditional"][i],
                digests.prompts["source"][i],
                digests.tokens["unconditional"][i],
                digests.tokens["source"][i],
            )
            for i in range(len(batch))
        ]

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
    if settings.runtime.pairs_per_batch < 1:
        raise ConfigError(f"ego.runtime.pairs_per_batch={settings.runtime.pairs_per_batch} is invalid; it must be at least 1")
    if settings.content_composition.interval < 1:
        raise ConfigError("ego.content_composition.interval must be at least 1")
    if settings.content_composition.window < 1:
        raise ConfigError("ego.content_composition.window must be at least 1")
    if settings.text_energy.noise_weighting not in ("constant", "sds"):
        raise ConfigError("ego.text_energy.noise_weighting must be 'constant' or 'sds'")
    # Validate the schedule now so that a bad preset fails before any pair starts.
    timestep_schedule(settings.schedule.kind, settings.steps, settings.schedule.t_max, settings.schedule.t_min)
