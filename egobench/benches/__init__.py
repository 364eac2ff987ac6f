"""Benchmarks: registries of edit pairs built from files.

A benchmark class becomes available to `egobench run --bench NAME` through `@register_bench("NAME")`.
"""

from __future__ import annotations

from typing import Callable

from egobench.benches.base import Bench, EditPair, LoadedPair
from egobench.errors import ConfigError

_BENCHES: dict[str, type[Bench]] = {}


def register_bench(name: str) -> Callable[[type[Bench]], type[Bench]]:
    """Make a `Bench` subclass discoverable under `name`."""

    def decorate(cls: type[Bench]) -> type[Bench]:
        cls.name = name
        _BENCHES[name] = cls
        return cls

    return decorate


def list_benches() -> list[str]:
    return sorted(_BENCHES)


def create_bench(name: str, **options) -> Bench:
    """Build the benchmark registered as `name` with its options (data root, pairing, ...)."""
    try:
        cls = _BENCHES[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of: {', '.join(list_benches())}") from None
    return cls(**options)


# Importing the modules registers the benchmarks.
from egobench.benches import dreamedit  # noqa: E402,F401

__all__ = ["Bench", "EditPair", "LoadedPair", "create_bench", "list_benches", "register_bench"]
