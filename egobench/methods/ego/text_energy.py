"""Text energy guidance (TEG): the DDS score difference, extended with a negative prompt.

D_txt = || eps_w(x~_t, y_ref) - eps_w(x^src_t, y_src) ||^2 + || eps(x~_t) - eps(x~_t, y_neg) ||^2

Like DDS, the gradient is taken with the UNet Jacobian dropped, so each term contributes its
residual directly:

    grad = w(t) * [ (eps_w(x~_t, y_ref) - eps_w(x^src_t, y_src)) + lambda_neg * (eps(x~_t) - eps(x~_t, y_neg)) ]

where eps_w(x, y) = eps(x) + w * (eps(x, y) - eps(x)) is the classifier-free-guided prediction. The
unconditional prediction eps(x~_t) of the edited latent is computed once and shared by its guided
prediction and by the negative term. Descending along the negative term moves the latent away from
y_neg. All predictions of one iteration run as one no-grad UNet batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel


@dataclass
class PromptEmbeddings:
    """CLIP hidden states (1, 77, D) of the prompts the text energy needs."""

    unconditional: torch.Tensor
    reference: torch.Tensor
    source: torch.Tensor
    negative: torch.Tensor | None


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
    """Return the text-energy gradient with respect to the edited latent, shape (1, 4, h, w).

    `edited_noisy` and `source_noisy` must be noised with the same noise draw so that it cancels in
    the difference. `image_tokens` (an `ImageTokens`) adds IP-Adapter tokens: the reference object's
    for the edited branch, the source object's for the source branch, zeros for the rest.
    """
    use_negative = prompts.negative is not None and negative_weight != 0

    # One batch: edited (uncond, y_ref[, y_neg]) then source (uncond, y_src).
    edited_prompts = [prompts.unconditional, prompts.reference] + ([prompts.negative] if use_negative else [])
    latents = torch.cat([edited_noisy] * len(edited_prompts) + [source_noisy] * 2)
    embeddings = torch.cat(edited_prompts + [prompts.unconditional, prompts.source])
    timesteps = torch.full((latents.shape[0],), timestep, device=latents.device, dtype=torch.long)
    added_cond_kwargs = None
    if image_tokens is not None:
        edited_roles = ["unconditional", "reference"] + (["unconditional"] if use_negative else [])
        added_cond_kwargs = image_tokens.batch(*edited_roles, "unconditional", "source")
    with torch.no_grad():
        predictions = unet(latents.to(unet.dtype), timesteps, embeddings, added_cond_kwargs=added_cond_kwargs).sample.float()

    edited = predictions[: len(edited_prompts)]
    source_unconditional, source_conditional = predictions[len(edited_prompts) :]
    edited_guided = edited[0] + guidance_scale * (edited[1] - edited[0])
    source_guided = source_unconditional + guidance_scale * (source_conditional - source_unconditional)

    gradient = edited_guided - source_guided
    if use_negative:
        gradient = gradient + negative_weight * (edited[0] - edited[2])
    return gradient.unsqueeze(0)


def noise_weight(kind: str, alpha_bar: torch.Tensor) -> torch.Tensor:
    """Return w(t): `constant` (1, as in DDS) or `sds` (1 - alpha-bar_t, as in DreamFusion)."""
    if kind == "constant":
        return torch.ones_like(alpha_bar)
    if kind == "sds":
        return 1 - alpha_bar
    raise ValueError(f"unknown noise weighting {kind!r}; use 'constant' or 'sds'")
