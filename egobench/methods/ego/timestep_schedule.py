"""Timestep schedules for the optimisation: coarse-to-fine (descending), and the two ablations."""

from __future__ import annotations

import torch

from egobench.errors import ConfigError

SCHEDULES = ("descending", "ascending", "random")


def timestep_schedule(kind: str, steps: int, t_max: int, t_min: int, seed: int = 0) -> list[int]:
    """Return `steps` integer timesteps in [t_min, t_max].

    `descending` is the coarse-to-fine sequence t_1 > t_2 > ... > t_N, evenly spaced from t_max down to
    t_min. `ascending` is the same set in reverse. `random` draws `steps` distinct timesteps uniformly
    from the whole range with `seed`, as SDS and DDS sample them.
    """
    if kind not in SCHEDULES:
        raise ConfigError(f"ego.schedule.kind={kind!r} is invalid; choose one of {', '.join(SCHEDULES)}")
    if steps < 1:
        raise ConfigError(f"ego.steps={steps} is invalid; it must be at least 1")
    if not 0 <= t_min < t_max <= 999:
        raise ConfigError(f"ego.schedule needs 0 <= t_min < t_max <= 999, got t_min={t_min}, t_max={t_max}")
    if t_max - t_min + 1 < steps:
        raise ConfigError(
            f"ego.schedule range [{t_min}, {t_max}] contains fewer than {steps} distinct timesteps; widen it or lower ego.steps"
        )

    if kind == "random":
        generator = torch.Generator().manual_seed(seed)
        offsets = torch.randperm(t_max - t_min + 1, generator=generator)[:steps]
        return [t_min + int(offset) for offset in offsets]

    if steps == 1:
        descending = [t_max]
    else:
        # Rounding an evenly spaced grid keeps the values distinct because the spacing is at least 1.
        descending = [round(t_max - index * (t_max - t_min) / (steps - 1)) for index in range(steps)]
    return descending if kind == "descending" else descending[::-1]
