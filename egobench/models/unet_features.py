"""The SD UNet forward split at an up-block, so that DIFT-style features cost only the layers they need.

`unet_prefix` runs the time embedding, the down blocks, the mid block and the up blocks up to and
including `up_block`, and returns that block's output (the feature map) with the state needed to
finish. `unet_suffix` finishes the forward from that state. Together they compute exactly
`unet(sample, t, encoder_hidden_states).sample` for SD 1.x-style UNets (no class embeddings, no
ControlNet or T2I-Adapter residuals); IP-Adapter image tokens pass through `added_cond_kwargs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import UNet2DConditionModel


@dataclass
class UNetState:
    """What the rest of the UNet needs after `unet_prefix` stopped at `next_up_block - 1`."""

    sample: torch.Tensor
    emb: torch.Tensor
    encoder_hidden_states: torch.Tensor
    residuals: tuple[torch.Tensor, ...]
    next_up_block: int
    forward_upsample_size: bool


def unet_prefix(
    unet: UNet2DConditionModel,
    sample: torch.Tensor,
    timestep: torch.Tensor,
    encoder_hidden_states: torch.Tensor,
    up_block: int,
    added_cond_kwargs: dict | None = None,
) -> tuple[torch.Tensor, UNetState]:
    """Run the UNet up to the output of `up_blocks[up_block]`.

    Args:
        sample: noised latents, (B, 4, h, w).
        timestep: (B,) or scalar integer timesteps.
        encoder_hidden_states: prompt embeddings, (B, 77, D).
        up_block: index into `unet.up_blocks`; SD 1.5's block 1 gives (B, 1280, h/2, w/2) features.

    Returns:
        The feature map and the `UNetState` that `unet_suffix` continues from.
    """
    if not 0 <= up_block < len(unet.up_blocks):
        raise ValueError(f"up_block must be in [0, {len(unet.up_blocks) - 1}], got {up_block}")
    factor = 2**unet.num_upsamplers
    forward_upsample_size = any(size % factor != 0 for size in sample.shape[-2:])

    emb = unet.time_embedding(unet.get_time_embed(sample=sample, timestep=timestep), None)
    aug_emb = unet.get_aug_embed(emb=emb, encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added_cond_kwargs or {})
    if aug_emb is not None:
        emb = emb + aug_emb
    if unet.time_embed_act is not None:
        emb = unet.time_embed_act(emb)
    encoder_hidden_states = unet.process_encoder_hidden_states(
        encoder_hidden_states=encoder_hidden_states, added_cond_kwargs=added_cond_kwargs or {}
    )

    sample = unet.conv_in(sample)
    residuals: tuple[torch.Tensor, ...] = (sample,)
    for block in unet.down_blocks:
        if getattr(block, "has_cross_attention", False):
            sample, block_residuals = block(hidden_states=sample, temb=emb, encoder_hidden_states=encoder_hidden_states)
        else:
            sample, block_residuals = block(hidden_states=sample, temb=emb)
        residuals += block_residuals

    if getattr(unet.mid_block, "has_cross_attention", False):
        sample = unet.mid_block(sample, emb, encoder_hidden_states=encoder_hidden_states)
    else:
        sample = unet.mid_block(sample, emb)

    state = UNetState(sample, emb, encoder_hidden_states, residuals, 0, forward_upsample_size)
    state = _run_up_blocks(unet, state, stop=up_block + 1)
    return state.sample, state


def unet_suffix(unet: UNet2DConditionModel, state: UNetState) -> torch.Tensor:
    """Finish a forward started by `unet_prefix`; returns the noise prediction (B, 4, h, w)."""
    state = _run_up_blocks(unet, state, stop=len(unet.up_blocks))
    sample = state.sample
    if unet.conv_norm_out is not None:
        sample = unet.conv_act(unet.conv_norm_out(sample))
    return unet.conv_out(sample)


def _run_up_blocks(unet: UNet2DConditionModel, state: UNetState, stop: int) -> UNetState:
    sample, residuals = state.sample, state.residuals
    for index in range(state.next_up_block, stop):
        block = unet.up_blocks[index]
        block_residuals = residuals[-len(block.resnets) :]
        residuals = residuals[: -len(block.resnets)]
        is_final = index == len(unet.up_blocks) - 1
        upsample_size = residuals[-1].shape[2:] if (not is_final and state.forward_upsample_size) else None
        if getattr(block, "has_cross_attention", False):
            sample = block(
                hidden_states=sample,
                temb=state.emb,
                res_hidden_states_tuple=block_residuals,
                encoder_hidden_states=state.encoder_hidden_states,
                upsample_size=upsample_size,
            )
        else:
            sample = block(hidden_states=sample, temb=state.emb, res_hidden_states_tuple=block_residuals, upsample_size=upsample_size)
    return UNetState(sample, state.emb, state.encoder_hidden_states, residuals, stop, state.forward_upsample_size)
