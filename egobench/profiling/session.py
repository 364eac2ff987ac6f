"""One profiling run: build the model and method, run one pair under the recorders, and report.

The pair runs twice, or more with `repeat`. The first pass counts FLOPs per stage inside
`FlopCounterMode`, which slows every operation, so its times are not used; it also warms the
kernels. The timed passes then measure wall time and peak memory with nothing else attached, and
the fastest is reported because on a shared machine the slower passes measure other processes.
An optional last pass records a `torch.profiler` Chrome trace with one range per stage.

The reuse cache is emptied before every pass, so each pass meets the pair for the first time. With
`reuse`, an untimed run fills it first, so every pass finds what a second preset with the same
image, seed and schedule would find. With `pairs_per_batch` > 1, that many generated pairs run as one
batch and costs are reported per pair.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from egobench.atomic import atomic_path
from egobench.benches.base import LoadedPair
from egobench.config import load_preset
from egobench.errors import ConfigError
from egobench.profiling.flops import flop_counter, unet_forward_flops, unet_prefix_flops
from egobench.profiling.least_work import IterationNeeds, UNetCosts, least_unet_equivalents
from egobench.profiling.memory import memory_meter
from egobench.profiling.recorder import OTHER, StageMeasure, StageRecorder
from egobench.profiling.stages import recording
from egobench.profiling.synthetic_pair import synthetic_pair

logger = logging.getLogger(__name__)

# The cache bound `reuse` sets when the preset has the cache off: room for a 512 px pair's entries.
REUSE_CACHE_MIB = 1024

# Table order: per-pair stages first, then the iteration's steps in the order they run.
STAGE_ORDER = (
    "vae_encode",
    "prompt_encode",
    "text_energy_unet",
    "reference_features",
    "feature_forward",
    "prediction_suffix",
    "matching",
    "backward",
    "gradient_scaling",
    "content_composition",
    "vae_decode",
)


@dataclass
class ProfileRequest:
    """The settings of one `egobench profile` run: one preset on one pair (or one batch of pairs)."""

    preset: str = "ego"
    model: str = "tiny"
    resolution: int | None = None
    steps: int = 2
    device: str = "cpu"
    seed: int = 0
    overrides: list[str] = field(default_factory=list)
    repeat: int = 1
    trace: Path | None = None
    pair: LoadedPair | None = None
    pairs_per_batch: int = 1
    reuse: bool = False


@dataclass
class StageRow:
    """One stage summed over the timed pass, per pair: inside the iterations (`iteration`) or once per pair.

    With several pairs per batch, seconds and FLOPs are the batch's divided by the number of pairs;
    calls and peak memory are the batch's.
    """

    stage: str
    scope: str
    calls: int
    seconds: float
    share: float
    flops: int
    unet_equivalents: float
    peak_mib: float


@dataclass
class IterationRow:
    """One optimisation step: what ran, what it cost per pair, and the least it needs."""

    index: int
    timestep: int
    mechanisms: str
    seconds: float
    flops: int
    unet_equivalents: float
    least: float
    least_with_reuse: float


@dataclass
class ProfileReport:
    """Everything `egobench profile` prints, as plain data for `--json`."""

    preset: str
    model: str
    device: str
    resolution: int
    latent_size: list[int]
    steps: int
    pairs_per_batch: int
    reuse: bool
    threads: int
    attention: list[str]
    memory_measure: str
    unet_forward_gflops: float
    up_block: int
    prefix_fraction: float
    prefix_backward_fraction: float
    stages: list[StageRow]
    iterations: list[IterationRow]
    seconds_per_iteration: float
    unet_equivalents_per_iteration: float
    least_per_iteration: float
    least_with_reuse_per_iteration: float
    full_iteration_unet_equivalents: float | None
    full_iteration_least: float | None
    full_iteration_least_with_reuse: float | None
    pair_seconds: float
    pair_peak_mib: float
    process_peak_mib: float
    timed_pass_seconds: list[float]
    trace: str | None = None


def run_profile(request: ProfileRequest) -> ProfileReport:
    """Profile `request.steps` iterations of one pair and return the report."""
    from egobench.methods.ego.pipeline import _DTYPES, EgoEdit
    from egobench.models.stable_diffusion import load_stable_diffusion

    overrides = [*request.overrides, f"ego.steps={request.steps}"]
    if request.resolution is not None:
        overrides.append(f"ego.resolution={request.resolution}")
    config = load_preset(request.preset, overrides)
    if request.reuse and not config.get("ego", {}).get("runtime", {}).get("reuse_cache_mib"):
        config = load_preset(request.preset, [*overrides, f"ego.runtime.reuse_cache_mib={REUSE_CACHE_MIB}"])
    if config["method"] != "ego":
        raise ConfigError(f"--method {request.preset}: profiling supports presets of the ego method, not {config['method']!r}")

    device = torch.device(request.device)
    dtype = _DTYPES.get(config.get("ego", {}).get("dtype", "float32"), torch.float32)
    sd = load_stable_diffusion(request.model, device=device, dtype=dtype, save_random=False)
    method = EgoEdit(config, model=request.model, device=device, sd=sd)
    resolution = method.resolution
    if resolution % sd.vae_scale_factor:
        raise ConfigError(f"--resolution {resolution}: must be a multiple of {sd.vae_scale_factor}")
    pairs = [request.pair] if request.pair is not None else []
    pairs += [synthetic_pair(resolution, pair_id=f"synthetic-{index}", seed=index) for index in range(len(pairs), request.pairs_per_batch)]
    latent_size = (resolution // sd.vae_scale_factor, resolution // sd.vae_scale_factor)

    up_block = method.settings.image_energy.up_block
    logger.info("counting one UNet forward and the prefix to up_blocks[%d] at %dx%d latents", up_block, *latent_size)
    prefix, prefix_backward = unet_prefix_flops(sd.unet, latent_size, up_block)
    costs = UNetCosts(unet_forward_flops(sd.unet, latent_size), prefix, prefix_backward, up_block)

    if request.reuse:
        logger.info("filling the reuse cache with an untimed run")
        _forget(method)
        _edit(method, pairs, request.seed)

    logger.info("pass 1: counting FLOPs per stage (%d iterations)", request.steps)
    counted = StageRecorder(device, flops=flop_counter())
    with counted.flops, recording(counted):
        _run_pairs(method, pairs, request.seed, counted, request.reuse)
    needs = _iteration_needs(method)

    meter = memory_meter(device)
    timed_passes = []
    for number in range(request.repeat):
        logger.info("pass %d: timing and peak memory", number + 2)
        timed = StageRecorder(device, memory=meter)
        with recording(timed):
            _run_pairs(method, pairs, request.seed, timed, request.reuse)
        timed_passes.append(timed)
    fastest = min(timed_passes, key=lambda recorder: recorder.total_seconds)

    trace = None
    if request.trace is not None:
        trace = _write_trace(method, pairs, request.seed, device, request.trace, request.reuse)

    report = _report(request, config, resolution, latent_size, costs, counted, fastest, timed_passes, needs, meter.name, trace)
    # AttnProcessor2_0 is diffusers' processor that calls F.scaled_dot_product_attention.
    report.attention = sorted({type(processor).__name__ for processor in sd.unet.attn_processors.values()})
    return report


def _run_pairs(method, pairs: list[LoadedPair], seed: int, recorder: StageRecorder, reuse: bool) -> None:
    if not reuse:
        _forget(method)
    recorder.start()
    try:
        _edit(method, pairs, seed)
    finally:
        recorder.stop()


def _edit(method, pairs: list[LoadedPair], seed: int) -> None:
    for result in method.edit_batch(pairs, seed):
        if isinstance(result, Exception):
            raise result


def _forget(method) -> None:
    if method.cache is not None:
        method.cache.clear()


def _iteration_needs(method) -> list[IterationNeeds]:
    settings = method.settings
    text = settings.text_energy
    negative = bool(text.negative_prompt) and text.negative_weight != 0
    shared = settings.image_energy.feature_prompt == "target"
    return [
        IterationNeeds(
            text=text.enabled,
            negative=negative,
            features=record.image_energy is not None,
            image_gradient=record.image_gradient_norm is not None,
            shared_prefix=shared,
        )
        for record in method.trace
    ]


def _write_trace(method, pairs: list[LoadedPair], seed: int, device: torch.device, path: Path, reuse: bool) -> str:
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    logger.info("last pass: recording a torch.profiler trace")
    recorder = StageRecorder(device, annotate=True)
    with torch.profiler.profile(activities=activities) as profiler, recording(recorder):
        _run_pairs(method, pairs, seed, recorder, reuse)
    path = Path(path)
    # Chrome traces are written by file name; the atomic path keeps a half-written trace hidden.
    with atomic_path(path) as temporary:
        profiler.export_chrome_trace(str(temporary))
    return str(path)


def _report(request, config, resolution, latent_size, costs, counted, timed, timed_passes, needs, memory_name, trace) -> ProfileReport:
    forward = costs.forward_flops
    pairs = request.pairs_per_batch
    stages = _stage_rows(counted, timed, forward, pairs)

    iterations = []
    for flop_iteration, time_iteration, iteration_needs in zip(counted.iterations, timed.iterations, needs):
        iterations.append(
            IterationRow(
                index=flop_iteration.index,
                timestep=flop_iteration.timestep,
                mechanisms=_mechanisms(iteration_needs),
                seconds=time_iteration.seconds / pairs,
                flops=flop_iteration.flops // pairs,
                unet_equivalents=flop_iteration.flops / pairs / forward,
                least=least_unet_equivalents(costs, iteration_needs),
                least_with_reuse=least_unet_equivalents(costs, iteration_needs, reuse=True),
            )
        )
    full = [row for row, iteration_needs in zip(iterations, needs) if iteration_needs.image_gradient]

    meter_peak = max(timed.total_peak_bytes, 0)
    return ProfileReport(
        preset=request.preset,
        model=request.model,
        device=str(request.device),
        resolution=resolution,
        latent_size=list(latent_size),
        steps=request.steps,
        pairs_per_batch=pairs,
        reuse=request.reuse,
        threads=torch.get_num_threads(),
        attention=[],
        memory_measure=memory_name,
        unet_forward_gflops=forward / 1e9,
        up_block=costs.up_block,
        prefix_fraction=costs.prefix,
        prefix_backward_fraction=costs.prefix_backward,
        stages=stages,
        iterations=iterations,
        seconds_per_iteration=statistics.fmean(row.seconds for row in iterations),
        unet_equivalents_per_iteration=statistics.fmean(row.unet_equivalents for row in iterations),
        least_per_iteration=statistics.fmean(row.least for row in iterations),
        least_with_reuse_per_iteration=statistics.fmean(row.least_with_reuse for row in iterations),
        full_iteration_unet_equivalents=statistics.fmean(row.unet_equivalents for row in full) if full else None,
        full_iteration_least=statistics.fmean(row.least for row in full) if full else None,
        full_iteration_least_with_reuse=statistics.fmean(row.least_with_reuse for row in full) if full else None,
        pair_seconds=timed.total_seconds / pairs,
        pair_peak_mib=meter_peak / 2**20,
        process_peak_mib=timed.absolute_peak_bytes / 2**20,
        timed_pass_seconds=[recorder.total_seconds for recorder in timed_passes],
        trace=trace,
    )


def _stage_rows(counted: StageRecorder, timed: StageRecorder, forward_flops: int, pairs: int) -> list[StageRow]:
    rows = []
    for scope, name in _stage_keys(counted, timed):
        flops = _sum_stage(counted, scope, name)
        measured = _sum_stage(timed, scope, name)
        rows.append(
            StageRow(
                stage=name,
                scope=scope,
                calls=measured.calls,
                seconds=measured.seconds / pairs,
                share=measured.seconds / timed.total_seconds if timed.total_seconds else 0.0,
                flops=flops.flops // pairs,
                unet_equivalents=flops.flops / pairs / forward_flops,
                peak_mib=measured.peak_bytes / 2**20,
            )
        )
    return rows


def _stage_keys(*recorders: StageRecorder) -> list[tuple[str, str]]:
    found = set()
    for recorder in recorders:
        found.update(("pair", name) for name in recorder.outside)
        found.update(("iteration", name) for iteration in recorder.iterations for name in iteration.stages)

    def order(key: tuple[str, str]) -> tuple[int, int, str]:
        scope, name = key
        if name == OTHER:
            return (len(STAGE_ORDER) + (1 if scope == "pair" else 0), 0, name)
        return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER) - 1, 0, name)

    return sorted(found, key=order)


def _sum_stage(recorder: StageRecorder, scope: str, name: str) -> StageMeasure:
    total = StageMeasure()
    measures = [recorder.outside.get(name)] if scope == "pair" else [iteration.stages.get(name) for iteration in recorder.iterations]
    for measure in measures:
        if measure is not None:
            total.seconds += measure.seconds
            total.flops += measure.flops
            total.peak_bytes = max(total.peak_bytes, measure.peak_bytes)
            total.calls += measure.calls
    return total


def _mechanisms(needs: IterationNeeds) -> str:
    parts = []
    if needs.text:
        parts.append("text")
    if needs.image_gradient:
        parts.append("image")
    elif needs.features:
        parts.append("matches")
    return "+".join(parts) or "none"
