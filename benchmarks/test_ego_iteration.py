"""EGO-Edit iteration cost at tiny scale, before and after each optimisation of the loop.

Run with `python -m pytest benchmarks/ --benchmark-only --benchmark-json FILE`; the default test
command does not collect this folder. Every case optimises the generated profiling pair on the
`tiny` random model with one PyTorch thread (EGOBENCH_BENCH_THREADS overrides), because on a
shared 2-core machine a second OpenMP thread mostly measures the other processes.

Cases record `extra_info["unet_equivalents_per_iteration"]`, counted with PyTorch's FLOP counter
in a separate run, so two JSON files can be compared on work as well as on time.
"""

from __future__ import annotations

import os

import pytest
import torch

from egobench.config import load_preset
from egobench.methods.ego import EgoEdit
from egobench.methods.ego.text_energy import predict_text_energy
from egobench.models.stable_diffusion import load_stable_diffusion
from egobench.profiling.flops import flop_counter, unet_forward_flops
from egobench.profiling.synthetic_pair import synthetic_pair

# Four iterations between t = 590 and 500, all with text and image energy; 590 and 545 compose.
FULL_ITERATIONS = ["ego.steps=4", "ego.schedule.t_max=590", "ego.schedule.t_min=500"]
ITERATIONS = 4

# The loop as first written: the feature prefix run twice and plain no_grad. The preset's defaults
# share the prefix and use inference_mode; the reuse cache is off unless a case turns it on.
VARIANTS = {
    "baseline": ["ego.runtime.share_prefix=false", "ego.runtime.inference_mode=false"],
    "shared-prefix": ["ego.runtime.inference_mode=false"],
    "default": [],
    "cache-on-first-run": ["ego.runtime.reuse_cache_mib=64"],
}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(int(os.environ.get("EGOBENCH_BENCH_THREADS", "1")))
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_sd():
    return load_stable_diffusion("tiny")


@pytest.fixture(scope="module")
def forward_flops(tiny_sd):
    return unet_forward_flops(tiny_sd.unet, (16, 16))


def make_ego(sd, *overrides: str) -> EgoEdit:
    return EgoEdit(load_preset("ego", [*FULL_ITERATIONS, *overrides]), model="tiny", sd=sd)


def unet_equivalents(method: EgoEdit, pairs: list, forward_flops: int) -> float:
    """Count one optimisation of `pairs` and return UNet-equivalents per iteration per pair."""
    with flop_counter() as counter:
        method.optimise_batch(pairs, seed=0)
    return counter.get_total_flops() / forward_flops / ITERATIONS / len(pairs)


def clear_cache(method: EgoEdit) -> None:
    if method.cache is not None:
        method.cache.clear()


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_full_iterations_tiny(benchmark, tiny_sd, forward_flops, variant):
    """Four full iterations of a pair seen for the first time (the cache is emptied each round)."""
    method = make_ego(tiny_sd, *VARIANTS[variant])
    pair = synthetic_pair(128)
    clear_cache(method)
    benchmark.extra_info["iterations"] = ITERATIONS
    benchmark.extra_info["unet_equivalents_per_iteration"] = unet_equivalents(method, [pair], forward_flops)

    def fresh_pair():
        clear_cache(method)
        return (pair, 0), {}

    benchmark.pedantic(method.optimise, setup=fresh_pair, rounds=8, warmup_rounds=1)


def test_full_iterations_tiny_reused(benchmark, tiny_sd, forward_flops):
    """The same iterations when a preset with the same pair, seed and schedule ran before (cache hits)."""
    method = make_ego(tiny_sd, "ego.runtime.reuse_cache_mib=64")
    pair = synthetic_pair(128)
    method.optimise(pair, seed=0)
    benchmark.extra_info["iterations"] = ITERATIONS
    benchmark.extra_info["unet_equivalents_per_iteration"] = unet_equivalents(method, [pair], forward_flops)
    benchmark.pedantic(method.optimise, args=(pair, 0), rounds=8, warmup_rounds=1)


@pytest.mark.parametrize("pairs_per_batch", [1, 4])
def test_pairs_per_batch_tiny(benchmark, tiny_sd, forward_flops, pairs_per_batch):
    """Four pairs, optimised one at a time or as one batch."""
    method = make_ego(tiny_sd)
    pairs = [synthetic_pair(128, pair_id=f"pair-{index}", seed=index) for index in range(4)]

    def optimise_all():
        for start in range(0, len(pairs), pairs_per_batch):
            method.optimise_batch(pairs[start : start + pairs_per_batch], seed=0)

    benchmark.extra_info["pairs"] = len(pairs)
    benchmark.extra_info["unet_equivalents_per_iteration"] = unet_equivalents(method, pairs[:pairs_per_batch], forward_flops)
    benchmark.pedantic(optimise_all, rounds=4, warmup_rounds=1)


@pytest.mark.parametrize("mode", ["no_grad", "inference_mode"])
def test_text_energy_batch_tiny(benchmark, tiny_sd, mode):
    """One no-grad batch of the five text-energy predictions."""
    method = make_ego(tiny_sd)
    prompts, _ = method._encode_prompts(synthetic_pair(128))
    generator = torch.Generator().manual_seed(0)
    edited, source = torch.randn(2, 1, 4, 16, 16, generator=generator)
    context = torch.inference_mode if mode == "inference_mode" else torch.no_grad

    def predict():
        with context():
            predict_text_energy(tiny_sd.unet, edited, source, 500, prompts, use_negative=True)

    benchmark.pedantic(predict, rounds=40, warmup_rounds=2)
