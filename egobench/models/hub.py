"""Finding hub models that are already on this machine, without touching the network."""

from __future__ import annotations

from pathlib import Path


def cached_snapshot(model: str) -> Path | None:
    """Return the local Hugging Face cache folder of a diffusers model id, or None if it is not cached."""
    from huggingface_hub import try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    try:
        found = try_to_load_from_cache(model, "model_index.json")
    except HFValidationError:
        return None
    return Path(found).parent if isinstance(found, str) else None
