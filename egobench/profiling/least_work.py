"""The least UNet work one EGO-Edit iteration needs, in UNet-equivalents.

One UNet-equivalent is the counted FLOPs of one UNet forward at batch 1 at the run's resolution.
An iteration at timestep t draws one noise sample shared by the edited latent x~, the source latent
x^src and the reference latent x^ref, and evaluates the following.

Text energy (DDS with a negative prompt) needs five no-grad noise predictions:

    edited:  eps(x~_t), eps(x~_t, y_ref), eps(x~_t, y_neg)
    source:  eps(x^src_t), eps(x^src_t, y_src)

Four without a negative prompt. None depends on another, so all of them share one batch.

Image energy (Eq. 1 on DIFT-style features) needs:

    F_opt: the UNet prefix of x~_t up to the output of up_blocks[k], with grad      p_k
    its backward to x~_0; the weights are frozen, so only input gradients            b_k
    F_ref: the same prefix of x^ref_t, no grad                                       p_k

Features are the output of up_blocks[k] (k = 1 for SD 1.5, DIFT's choice), so the forward must run
the time embedding, conv_in, every down block, the mid block and up blocks 0..k, and nothing after.
The backward costs about as much as that forward, not twice: with frozen weights no weight
gradients are computed, only the input gradients of each convolution and matrix product. Attention
backward counts more than its forward (PyTorch's formula charges the recomputed scores), so b_k is
a little above p_k. The matching itself (nearest neighbours among at most a few thousand cells) is
a few MFLOPs and not counted here. F_ref depends only on the reference image, the noise, t, the
prompt and the model, so a run that shares those with an earlier run can take it from a cache. So
can the two source predictions.

Sharing: when the feature prompt is the target prompt, F_opt's forward is the first part of
eps(x~_t, y_ref). Running the prefix once with grad, then finishing eps(x~_t, y_ref) from the
detached prefix state under no_grad, saves p_k. Content composition without image energy needs
the matches only: the prefixes without the backward.

Least UNet-equivalents per iteration, for a pair seen for the first time:

    text energy only (t > image_energy.start_t)      N = 5  (4 without a negative prompt)
    text + image energy, shared prefix               N + p_k + b_k
    text + image energy, feature prompt not shared   N + 2 p_k + b_k

With reuse from an earlier run of the same image, seed and timestep, subtract 2 (source
predictions) and p_k (F_ref).

Counted on CPU with `egobench profile --model sd15-random --resolution R` (PyTorch 2.14, fp32,
diffusers' SDPA attention), SD 1.5 gives p_1 = 0.546 and b_1 = 0.640 at 512 px, so a full iteration
needs at least 6.19 UNet-equivalents there, 3.64 with reuse. At 256 px, where attention is a smaller
share, p_1 = 0.567 and b_1 = 0.583. One UNet forward is 803 GFLOP at 512 px and 180 GFLOP at 256 px.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UNetCosts:
    """Counted FLOPs of the UNet parts the method runs, at batch 1 and one resolution."""

    forward_flops: int
    prefix_flops: int
    prefix_backward_flops: int
    up_block: int

    @property
    def prefix(self) -> float:
        """p_k: the prefix forward as a fraction of one UNet forward."""
        return self.prefix_flops / self.forward_flops

    @property
    def prefix_backward(self) -> float:
        """b_k: the input-gradient backward through the prefix, as a fraction of one UNet forward."""
        return self.prefix_backward_flops / self.forward_flops


@dataclass(frozen=True)
class IterationNeeds:
    """The evaluations that an iteration's settings and timestep call for."""

    text: bool
    negative: bool
    features: bool
    image_gradient: bool
    shared_prefix: bool


def least_unet_equivalents(costs: UNetCosts, needs: IterationNeeds, reuse: bool = False) -> float:
    """Return the least UNet-equivalents of one iteration. `reuse` assumes cached F_ref and source predictions."""
    total = 0.0
    if needs.text:
        total += 2 + int(needs.negative)
        total += 0 if reuse else 2
    if needs.features:
        total += 0 if reuse else costs.prefix
        if not (needs.text and needs.shared_prefix):
            total += costs.prefix
    if needs.image_gradient:
        total += costs.prefix_backward
    return total
