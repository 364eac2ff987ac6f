"""Ablation presets and `dds`: each differs from `ego` exactly in the mechanism it names."""

from __future__ import annotations

import pytest

from egobench.config import load_preset
from egobench.methods.ego.settings import EgoSettings

# Top-level keys that name or describe a preset rather than configure the method.
LABEL_KEYS = {"preset", "description"}

EXPECTED_DIFFERENCES = {
    "ego-wo-ieg": {"ego.image_energy.enabled": False},
    "ego-wo-cc": {"ego.content_composition.enabled": False},
    "ego-wo-gs": {"ego.gradient_scaling.truncation": False, "ego.gradient_scaling.smoothing": False},
    "ego-random-schedule": {"ego.schedule.kind": "random"},
    "ego-ascending-schedule": {"ego.schedule.kind": "ascending"},
    "dds": {
        "ego.text_energy.negative_weight": 0.0,
        "ego.image_energy.enabled": False,
        "ego.content_composition.enabled": False,
        "ego.gradient_scaling.truncation": False,
        "ego.gradient_scaling.smoothing": False,
    },
}


def _flatten(config: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.mark.parametrize("preset", sorted(EXPECTED_DIFFERENCES))
def test_preset_differs_only_in_mechanism(preset):
    ego = _flatten({key: value for key, value in load_preset("ego").items() if key not in LABEL_KEYS})
    ablation = _flatten({key: value for key, value in load_preset(preset).items() if key not in LABEL_KEYS})

    assert set(ablation) == set(ego)
    differences = {key: ablation[key] for key in ablation if ablation[key] != ego[key]}
    assert differences == EXPECTED_DIFFERENCES[preset]


@pytest.mark.parametrize("preset", sorted(EXPECTED_DIFFERENCES))
def test_preset_values_are_valid_settings(preset):
    config = load_preset(preset)
    settings = EgoSettings.from_dict(config["ego"])

    assert config["method"] == "ego"
    for dotted, value in EXPECTED_DIFFERENCES[preset].items():
        node = settings
        for key in dotted.split(".")[1:]:
            node = getattr(node, key)
        assert node == value, dotted


def test_ego_enables_every_ablated_mechanism():
    settings = EgoSettings.from_dict(load_preset("ego")["ego"])

    assert settings.image_energy.enabled
    assert settings.content_composition.enabled
    assert settings.gradient_scaling.truncation
    assert settings.gradient_scaling.smoothing
    assert settings.schedule.kind == "descending"
    assert settings.text_energy.negative_weight > 0
