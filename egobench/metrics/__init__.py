"""Metrics of an edit: DINO, CLIP-I and CLIP-T similarity, and background preservation.

A metric class becomes selectable with `--metrics NAME` through `@register_metric("NAME")`; its name
is also its column in metrics.csv. `bg` selects every background metric at once.
"""

from __future__ import annotations

import importlib
from typing import Callable

from egobench.errors import ConfigError
from egobench.metrics.base import Metric, Missing, PairImages
from egobench.metrics.defaults import DEFAULT_METRICS

_METRICS: dict[str, type[Metric]] = {}

# Column order of metrics.csv and summary.csv.
METRIC_COLUMNS = ("dino", "clip_i", "clip_t", "bg_psnr", "bg_ssim", "bg_mse", "bg_lpips")
METRIC_GROUPS = {"bg": ("bg_psnr", "bg_ssim", "bg_mse", "bg_lpips")}
# Modules whose import registers the built-in metrics. They pull in torch and the encoder libraries
# (seconds of import time), so they load on the first registry lookup, not with the package.
_BUILTIN_MODULES = ("egobench.metrics.similarity", "egobench.metrics.background")


def register_metric(name: str) -> Callable[[type[Metric]], type[Metric]]:
    """Make a `Metric` subclass selectable under `name`, which is also its metrics.csv column."""

    def decorate(cls: type[Metric]) -> type[Metric]:
        cls.name = name
        _METRICS[name] = cls
        return cls

    return decorate


def list_metrics() -> list[str]:
    _load_builtin_metrics()
    return [name for name in METRIC_COLUMNS if name in _METRICS] + sorted(set(_METRICS) - set(METRIC_COLUMNS))


def metric_class(name: str) -> type[Metric]:
    _load_builtin_metrics()
    try:
        return _METRICS[name]
    except KeyError:
        raise ConfigError(f"unknown metric {name!r}; choose from {', '.join(_choices())}") from None


def parse_metric_names(selection: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Expand a selection such as `dino,clip_i,bg` (or `none`) into metric names in column order.

    Raises:
        ConfigError: a name is neither a metric nor a group.
    """
    if isinstance(selection, str):
        requested = [part.strip() for part in selection.split(",") if part.strip()]
    else:
        requested = list(selection)
    if requested == ["none"]:
        return ()

    _load_builtin_metrics()
    names: set[str] = set()
    for name in requested:
        if name in METRIC_GROUPS:
            names.update(METRIC_GROUPS[name])
        elif name in _METRICS:
            names.add(name)
        else:
            raise ConfigError(f"unknown metric {name!r} in --metrics; choose from {', '.join(_choices())}, or none")
    return tuple(name for name in list_metrics() if name in names)


def _choices() -> list[str]:
    return list_metrics() + list(METRIC_GROUPS)


def _load_builtin_metrics() -> None:
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


__all__ = [
    "DEFAULT_METRICS",
    "METRIC_COLUMNS",
    "METRIC_GROUPS",
    "Metric",
    "Missing",
    "PairImages",
    "list_metrics",
    "metric_class",
    "parse_metric_names",
    "register_metric",
]
