"""Benchmarks: registries of edit pairs built from files.

A benchmark class becomes available to `egobench run --bench NAME` through `@register_bench("NAME")`.
Its constructor's keyword arguments are the options that `create_bench` accepts for it.
"""

from __future__ import annotations

import inspect
from typing import Callable

from egobench.benches.base import Bench, EditPair, LoadedPair
from egobench.errors import ConfigError

_BENCHES: dict[str, type[Bench]] = {}

# Options that `egobench run` and `egobench bench show` pass from the command line, in display order.
COMMAND_LINE_OPTIONS = ("data_root", "subjects", "pairing", "manifest", "seed")


def register_bench(name: str) -> Callable[[type[Bench]], type[Bench]]:
    """Make a `Bench` subclass discoverable under `name`."""

    def decorate(cls: type[Bench]) -> type[Bench]:
        cls.name = name
        _BENCHES[name] = cls
        return cls

    return decorate


def list_benches() -> list[str]:
    return sorted(_BENCHES)


def bench_class(name: str) -> type[Bench]:
    """Return the class registered as `name`."""
    try:
        return _BENCHES[name]
    except KeyError:
        raise ConfigError(f"unknown benchmark {name!r}; choose one of: {', '.join(list_benches())}") from None


def bench_options(name: str) -> list[str]:
    """Return the option names that the benchmark `name` accepts."""
    parameters = inspect.signature(bench_class(name).__init__).parameters
    return [key for key, parameter in parameters.items() if key != "self" and parameter.kind == parameter.KEYWORD_ONLY]


def command_line_options(name: str) -> list[str]:
    """Return the command-line options (`--data-root`, ...) that the benchmark `name` accepts."""
    accepted = bench_options(name)
    return [f"--{key.replace('_', '-')}" for key in COMMAND_LINE_OPTIONS if key in accepted]


def create_bench(name: str, **options) -> Bench:
    """Build the benchmark registered as `name` with its options (data root, pairing, ...).

    Every benchmark accepts `seed`, which only benchmarks with random pairings use. An option that
    the benchmark does not take raises `ConfigError`, so that a misplaced `--pairing` is not
    silently ignored.
    """
    cls = bench_class(name)
    accepted = bench_options(name)
    unknown = sorted(key for key in options if key not in accepted)
    if unknown:
        flags = ", ".join(f"--{key.replace('_', '-')}" for key in unknown)
        raise ConfigError(
            f"benchmark {name!r} does not take {flags}; it takes: {', '.join(command_line_options(name))}"
        )
    return cls(**options)


# Importing the modules registers the benchmarks.
from egobench.benches import dreamedit, folder, piebench  # noqa: E402,F401

__all__ = ["Bench", "EditPair", "LoadedPair", "bench_options", "command_line_options", "create_bench", "list_benches", "register_bench"]
