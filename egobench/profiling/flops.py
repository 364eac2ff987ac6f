"""FLOP counts from PyTorch's `FlopCounterMode`, and the UNet forward they are measured against.

Counted operations are those with a formula in `torch.utils.flop_counter`: convolutions and their
backward, `mm`/`addmm`/`bmm`/`baddbmm`, and scaled-dot-product attention. Elementwise operations,
normalisations and softmax count zero, as in PyTorch's counter. One multiply-add counts as 2 FLOPs.

On CPU, `F.scaled_dot_product_attention` dispatches to `_scaled_dot_product_flash_attention_for_cpu`,
which PyTorch 2.14's formula registry does not list, so attention would count zero there. The
formulas below add it, using PyTorch's own attention counts, so CPU and CUDA counts agree.
"""

from __future__ import annotations

import torch
from diffusers import UNet2DConditionModel
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from egobench.models.unet_features import unet_prefix


def _cpu_flash_attention_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_flop_count(query.shape, key.shape, value.shape)


def _cpu_flash_attention_backward_flops(grad_out, query, key, value, *args, out_val=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out.shape, query.shape, key.shape, value.shape)


# `_get_raw` marks these formulas as taking tensors rather than shapes, as FlopCounterMode expects.
_cpu_flash_attention_flops._get_raw = True
_cpu_flash_attention_backward_flops._get_raw = True

EXTRA_FORMULAS = {
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _cpu_flash_attention_flops,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_flash_attention_backward_flops,
}


def flop_counter() -> FlopCounterMode:
    """Return a silent `FlopCounterMode` that also counts CPU flash attention."""
    return FlopCounterMode(display=False, custom_mapping=EXTRA_FORMULAS)


def _probe_inputs(unet: UNet2DConditionModel, latent_size: tuple[int, int], batch: int = 1):
    device, dtype = unet.device, unet.dtype
    generator = torch.Generator(device="cpu").manual_seed(0)
    sample = torch.randn(batch, unet.config.in_channels, *latent_size, generator=generator).to(device, dtype)
    timesteps = torch.full((batch,), 500, device=device, dtype=torch.long)
    prompt = torch.randn(batch, 77, unet.config.cross_attention_dim, generator=generator).to(device, dtype)
    return sample, timesteps, prompt


def unet_forward_flops(unet: UNet2DConditionModel, latent_size: tuple[int, int], added_cond_kwargs: dict | None = None) -> int:
    """Count the FLOPs of one UNet forward at batch 1 for latents of `latent_size` (h, w)."""
    sample, timesteps, prompt = _probe_inputs(unet, latent_size)
    with torch.no_grad(), flop_counter() as counter:
        unet(sample, timesteps, prompt, added_cond_kwargs=added_cond_kwargs)
    return counter.get_total_flops()


def unet_prefix_flops(
    unet: UNet2DConditionModel, latent_size: tuple[int, int], up_block: int, added_cond_kwargs: dict | None = None
) -> tuple[int, int]:
    """Count (forward, backward) FLOPs of the UNet up to `up_block` at batch 1, with grad for the input only.

    The weights stay frozen, as in EGO-Edit, so the backward computes input gradients and no weight
    gradients. For convolutions and matrix products that is about as much work as the forward.
    """
    sample, timesteps, prompt = _probe_inputs(unet, latent_size)
    leaf = sample.detach().requires_grad_(True)
    with flop_counter() as counter:
        # The multiplication makes the UNet input a non-leaf tensor, as in the pipeline, because the
        # module hooks of FlopCounterMode reject autograd.grad on a leaf that enters a module directly.
        features, _ = unet_prefix(unet, leaf * 1.0, timesteps, prompt, up_block, added_cond_kwargs)
        forward = counter.get_total_flops()
        torch.autograd.grad(features.float().pow(2).sum(), leaf)
        backward = counter.get_total_flops() - forward
    return forward, backward
