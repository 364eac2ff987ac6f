"""Text energy guidance (TEG): the DDS score difference, extended with a negative prompt.

D_txt = || eps_w(x~_t, y_ref) - eps_w(x^src_t, y_src) ||^2 + || eps(x~_t) - eps(x~_t, y_neg) ||^2

Like DDS, the gradient is taken with the UNet Jacobian dropped, so each term contributes its
residual directly:

    grad = w(t) * [ (eps_w(x~_t, y_ref) - eps_w(x^src_t, y_src)) + lambda_neg * (eps(x~_t) - eps(x~_t, y_neg)) ]

where eps_w(x, y) = eps(x) + w * (eps(x, y) - eps(x)) is the classifier-free-guided prediction. The
unconditional prediction eps(x~_t) of the edited latent is computed once and shared by its guided
prediction and by the negative term. Descending along the negative term moves the latent away from
y_neg. All predictions of one iteration that are not already known run as one no-grad UNet batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel

from egobench.profiling.stages import stage

# A prediction's role: which latent (edited or source), which prompt, which IP-Adapter tokens.
ROLES = {
    "edited_unconditional": ("edited", "unconditional", "unconditional"),
    "edited_reference": ("edited", "reference", "reference"),
    "edited_negative": ("edited", "negative", "unconditional"),
    "source_unconditional": ("source", "unconditional", "unconditional"),
    "source_conditional": ("source", "source", "source"),
}
SOURCE_ROLES = ("source_unconditional", "source_conditional")


@dataclass
class PromptEmbeddings:
    """CLIP hidden states (P, 77, D) of the prompts the text energy needs, one row per pair."""

    unconditional: torch.Tensor
    reference: torch.Tensor
    source: torch.Tensor
    negative: torch.Tensor | None


def needed_roles(use_negative: bool) -> list[str]:
    """Return the prediction roles of one iteration, in batch order."""
    return [role for role in ROLES if role != "edited_negative" or use_negative]


def predict_text_energy(
    unet: UNet2DConditionModel,
    edited_noisy: torch.Tensor,
    source_noisy: torch.Tensor,
    timestep: int,
    prompts: PromptEmbeddings,
    use_negative: bool,
    image_tokens=None,
    known: dict[tuple[str, int], torch.Tensor] | None = None,
    roles: list[str] | tuple[str, ...] | None = None,
) -> dict[str, torch.Tensor]:
    """Return the predictions of `roles` (default: all the text energy needs), role -> (P, 4, h, w) float32.

    Predictions in `known`, keyed by (role, pair index) with shape (1, 4, h, w), are used as given.
    The others run as one no-grad batch, ordered by role and then by pair. `image_tokens` (an
    `ImageTokens` with P rows per role) adds IP-Adapter tokens.
    """
    known = known or {}
    pairs = source_noisy.shape[0]
    latents = {"edited": edited_noisy, "source": source_noisy}
    roles = needed_roles(use_negative) if roles is None else roles
    rows = [(role, index) for role in roles for index in range(pairs) if (role, index) not in known]

    computed = {}
    if rows:
        batch = torch.cat([latents[ROLES[role][0]][index : index + 1] for role, index in rows])
        embeddings = torch.cat([getattr(prompts, ROLES[role][1])[index : index + 1] for role, index in rows])
        timesteps = torch.full((len(rows),), timestep, device=batch.device, dtype=torch.long)
        added_cond_kwargs = None
        if image_tokens is not None:
            added_cond_kwargs = image_tokens.rows([(ROLES[role][2], index) for role, index in rows])
        with stage("text_energy_unet"), torch.no_grad():
            predictions = unet(batch.to(unet.dtype), timesteps, embeddings, added_cond_kwargs=added_cond_kwargs).sample.float()
        computed = {row: predictions[position : position + 1] for position, row in enumerate(rows)}

    return {role: torch.cat([known.get((role, index), computed.get((role, index))) for index in range(pairs)]) for role in roles}


def combine_text_energy(predictions: dict[str, torch.Tensor], guidance_scale: float, negative_weight: float) -> torch.Tensor:
    """Return the text-energy gradient (P, 4, h, w) from the predictions of `predict_text_energy`."""
    edited_guided = predictions["edited_unconditional"] + guidance_scale * (predictions["edited_reference"] - predictions["edited_unconditional"])
    source_guided = predictions["source_unconditional"] + guidance_scale * (predictions["source_conditional"] - predictions["source_unconditional"])

    gradient = edited_guided - source_guided
    if "edited_negative" in predictions:
        gradient = gradient + negative_weight * (predictions["edited_unconditional"] - predictions["edited_negative"])
    return gradient


def text_energy_gradient(
    unet: UNet2DConditionModel,
    edited_noisy: torch.Tensor,
    source_noisy: torch.Tensor,
    timestep: int,
    prompts: PromptEmbeddings,
    guidance_scale: float,
    negative_weight: float,
    image_tokens=None,
) -> torch.Tensor:
    """Return the text-energy gradient with respect to the edited latents, shape (P, 4, h, w).

    `edited_noisy` and `source_noisy` must be noised with the same noise draw so that it cancels in
    the difference. `image_tokens` (an `ImageTokens`) adds IP-Adapter tokens: the reference object's
    for the edited branch, the source object's for the source branch, zeros for the rest.
    """
    use_negative = prompts.negative is not None and negative_weight != 0
    predictions = predict_text_energy(unet, edited_noisy, source_noisy, timestep, prompts, use_negative, image_tokens)
    return combine_text_energy(predictions, guidance_scale, negative_weight)


def noise_weight(kind: str, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Return w(t): `constant` (1, as in DDS) or `sds` (1 - alpha-bar_t, as in DreamFusion)."""
    if kind == "constant":
        return torch.ones_like(alpha_bar)
    if kind == "sds":
        return 1 - alpha_bar
    raise ValueError(f"unknown noise weighting {kind!r}; use 'constant' or 'sds'")
