"""Editing methods and their registry.

A method class becomes discoverable through `@register_method("NAME")`; a preset file
`methods/PRESET.yaml` names the class in its `method:` key and contains its settings.
"""

from __future__ import annotations

from typing import Callable

from egobench.config import load_preset
from egobench.errors import ConfigError
from egobench.methods.base import EditMethod

_METHODS: dict[str, type[EditMethod]] = {}


def register_method(name: str) -> Callable[[type[EditMethod]], type[EditMethod]]:
    """Make an `EditMethod` subclass discoverable under `name`."""

    def decorate(cls: type[EditMethod]) -> type[EditMethod]:
        cls.name = name
        _METHODS[name] = cls
        return cls

    return decorate


def method_class(name: str) -> type[EditMethod]:
    try:
        return _METHODS[name]
    except KeyError:
        raise ConfigError(f"unknown method {name!r}; registered methods: {', '.join(sorted(_METHODS))}") from None


def registered_methods() -> dict[str, type[EditMethod]]:
    return dict(_METHODS)


def create_method(preset: str, *, model: str | None, device: str, overrides: list[str] = ()) -> EditMethod:
    """Build the method a preset names, with the preset's settings and `--set` overrides applied."""
    config = load_preset(preset, overrides)
    cls = method_class(config["method"])
    return cls(config, model=model, device=device)


# Importing the modules registers the methods.
from egobench.methods import ego, external, paste, pbe, source  # noqa: E402,F401

__all__ = ["EditMethod", "create_method", "method_class", "register_method", "registered_methods"]
