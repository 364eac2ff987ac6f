"""Method presets: YAML files in `methods/`, with `extends:` inheritance and `--set` overrides."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from egobench.errors import ConfigError

# Presets ship in the repository's `methods/` folder; EGOBENCH_METHODS points at another folder.
DEFAULT_PRESET_DIR = Path(__file__).resolve().parent.parent / "methods"


def preset_dirs() -> list[Path]:
    """Return the folders searched for `NAME.yaml`, first match wins."""
    folders = []
    if os.environ.get("EGOBENCH_METHODS"):
        folders.append(Path(os.environ["EGOBENCH_METHODS"]))
    folders.append(DEFAULT_PRESET_DIR)
    return folders


def list_presets() -> list[str]:
    names = set()
    for folder in preset_dirs():
        if folder.is_dir():
            names.update(path.stem for path in folder.glob("*.yaml"))
    return sorted(names)


def preset_path(name: str) -> Path:
    for folder in preset_dirs():
        candidate = folder / f"{name}.yaml"
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(folder) for folder in preset_dirs())
    raise ConfigError(f"preset {name!r} not found in {searched}; available: {', '.join(list_presets())}")


def load_preset(name: str, overrides: list[str] | tuple[str, ...] = ()) -> dict:
    """Load preset `name`, merge the presets it extends, then apply `KEY.PATH=VALUE` overrides."""
    config = _load_with_parents(name, seen=())
    config["preset"] = name
    if "method" not in config:
        raise ConfigError(f"{preset_path(name)}: missing 'method:' key naming the registered method")
    return apply_overrides(config, overrides)


def _load_with_parents(name: str, seen: tuple[str, ...]) -> dict:
    if name in seen:
        raise ConfigError(f"preset {name!r} extends itself through {' -> '.join(seen + (name,))}")
    path = preset_path(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: invalid YAML ({error}); fix the file") from error
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset must be a YAML mapping")
    parent = data.pop("extends", None)
    if parent is None:
        return data
    return deep_merge(_load_with_parents(parent, seen + (name,)), data)


def deep_merge(base: dict, update: dict) -> dict:
    """Return `base` with `update` merged in; nested mappings merge key by key."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def apply_overrides(config: dict, overrides: list[str] | tuple[str, ...]) -> dict:
    """Apply `a.b.c=value` overrides; values are parsed as YAML, keys must already exist."""
    config = copy.deepcopy(config)
    for override in overrides:
        if "=" not in override:
            raise ConfigError(f"--set {override!r}: expected KEY.PATH=VALUE, for example ego.steps=20")
        dotted, raw_value = override.split("=", 1)
        keys = dotted.strip().split(".")
        node = config
        for depth, key in enumerate(keys[:-1]):
            if not isinstance(node.get(key), dict):
                known = ", ".join(sorted(k for k, v in node.items() if isinstance(v, dict)))
                raise ConfigError(f"--set {dotted}: no section {'.'.join(keys[: depth + 1])!r}; sections here: {known}")
            node = node[key]
        if keys[-1] not in node:
            raise ConfigError(
                f"--set {dotted}: unknown setting {keys[-1]!r}; settings here: {', '.join(sorted(node))}"
            )
        try:
            node[keys[-1]] = yaml.safe_load(raw_value)
        except yaml.YAMLError as error:
            raise ConfigError(f"--set {override!r}: value is not valid YAML ({error})") from error
    return config
