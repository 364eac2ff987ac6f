"""EGO-Edit settings: the `ego:` section of a preset, as typed dataclasses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from egobench.errors import ConfigError


@dataclass
class ScheduleSettings:
    kind: str = "descending"
    t_max: int = 900
    t_min: int = 50


@dataclass
class TextEnergySettings:
    enabled: bool = True
    weight: float = 1.0
    guidance_scale: float = 7.5
    negative_prompt: str = ""
    negative_weight: float = 0.3
    noise_weighting: str = "constant"


@dataclass
class ImageEnergySettings:
    enabled: bool = True
    weight: float = 0.002
    start_t: int = 600
    up_block: int = 1
    distance: str = "euclidean"
    feature_prompt: str = "target"


@dataclass
class GradientScalingSettings:
    truncation: bool = True
    smoothing: bool = True
    smoothing_sigma: float = 1.0


@dataclass
class ContentCompositionSettings:
    enabled: bool = True
    start_t: int = 600
    window: int = 100
    interval: int = 2


@dataclass
class IPAdapterSettings:
    path: str | None = None
    subfolder: str = "models"
    weight_name: str = "ip-adapter_sd15.bin"
    image_encoder: str | None = None
    scale: float = 0.6


@dataclass
class RuntimeSettings:
    """Options for computing the loop. Each keeps the method's equations, and only fp16/bf16
    autocast changes numbers beyond float32 rounding."""

    pairs_per_batch: int = 1
    share_prefix: bool = True
    reuse_cache_mib: int = 0
    inference_mode: bool = True
    autocast: str | None = None
    channels_last: bool = False
    compile: bool = False


@dataclass
class EgoSettings:
    steps: int = 50
    learning_rate: float = 0.1
    resolution: int | None = None
    dtype: str = "float32"
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    text_energy: TextEnergySettings = field(default_factory=TextEnergySettings)
    image_energy: ImageEnergySettings = field(default_factory=ImageEnergySettings)
    gradient_scaling: GradientScalingSettings = field(default_factory=GradientScalingSettings)
    content_composition: ContentCompositionSettings = field(default_factory=ContentCompositionSettings)
    ip_adapter: IPAdapterSettings = field(default_factory=IPAdapterSettings)
    runtime: RuntimeSettings = field(default_factory=RuntimeSettings)

    @classmethod
    def from_dict(cls, values: dict, prefix: str = "ego") -> "EgoSettings":
        """Build settings from a preset section; unknown keys are errors that name the key."""
        return _build(cls, values or {}, prefix)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _build(cls, values: dict, prefix: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix} must be a mapping, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"{prefix}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(fields)}")
    arguments = {}
    for name, value in values.items():
        default = fields[name].default_factory() if fields[name].default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(default):
            arguments[name] = _build(type(default), value, f"{prefix}.{name}")
        else:
            arguments[name] = _check_type(f"{prefix}.{name}", value, fields[name].type)
    return cls(**arguments)


_SCALAR_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


def _check_type(key: str, value, annotation: str):
    """Return `value` if it matches the field's annotation (`int`, `float | None`, ...), else raise ConfigError."""
    names = [part.strip() for part in str(annotation).split("|")]
    if value is None and "None" in names:
        return value
    for name in names:
        accepted = _SCALAR_TYPES.get(name)
        # bool is a subclass of int in Python, but `steps: true` is a typo, not a number.
        if accepted and isinstance(value, accepted) and not (isinstance(value, bool) and name != "bool"):
            return float(value) if name == "float" else value
    expected = " or ".join("null" if name == "None" else name for name in names)
    raise ConfigError(f"{key}={value!r} is invalid; expected {expected}")
