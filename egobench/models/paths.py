"""Checks that tell a local model folder from a hub id before anything heavy loads."""

from __future__ import annotations

from pathlib import Path

from egobench.errors import ModelNotFoundError

# Names that build a random model in code rather than naming weights.
GENERATED_MODELS = ("tiny", "sd15-random")
_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin", "model.safetensors", "pytorch_model.bin")


def looks_like_path(model: str) -> bool:
    """Return True for a value meant as a folder: absolute, relative with ./ or ../, ~, or deeper than owner/name."""
    return model.startswith(("/", "./", "../", "~")) or model.count("/") > 1 or "\\" in model


def check_model_path(model: str) -> None:
    """Reject a `--model` value that is meant as a folder but does not exist.

    Hub ids, generated models and existing folders pass; their weights are checked when they load,
    by the method, which loads the components it needs.
    """
    if model in GENERATED_MODELS or Path(model).expanduser().exists():
        return
    if looks_like_path(model):
        raise ModelNotFoundError(f"{model}: model folder not found; check the path, or use --model tiny for a random-weight smoke run")


def check_diffusers_folder(folder: Path) -> None:
    """Raise ModelNotFoundError unless `folder` has weights for unet/, vae/ and text_encoder/."""
    if not folder.is_dir():
        raise ModelNotFoundError(f"{folder}: --model must be a diffusers folder (with unet/, vae/, text_encoder/, ...), a hub id, or 'tiny'")
    for component in ("unet", "vae", "text_encoder"):
        if not any((folder / component / name).is_file() for name in _WEIGHT_FILES):
            raise ModelNotFoundError(
                f"{folder}: no weights in {component}/; save a model there with save_pretrained, "
                "or use --model tiny for a random-weight smoke run"
            )
