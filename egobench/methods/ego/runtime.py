"""Execution options for the UNet calls of the EGO-Edit loop: no-grad mode, autocast, memory format, compilation.

These settings (the preset's `ego.runtime` section) change how the same equations are computed.
fp16/bf16 autocast also changes the numbers; the others only change float32 rounding.
"""

from __future__ import annotations

import contextlib
import logging
from typing import ContextManager

import torch

from egobench.errors import ConfigError
from egobench.methods.ego.settings import RuntimeSettings

logger = logging.getLogger(__name__)

_AUTOCAST_DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16}


class Runtime:
    """Contexts and one-time model changes for `RuntimeSettings` on one device."""

    def __init__(self, settings: RuntimeSettings, device: torch.device):
        if settings.autocast is not None and settings.autocast not in _AUTOCAST_DTYPES:
            raise ConfigError(f"ego.runtime.autocast={settings.autocast!r} is invalid; choose null, {', '.join(_AUTOCAST_DTYPES)}")
        if settings.reuse_cache_mib < 0:
            raise ConfigError(f"ego.runtime.reuse_cache_mib={settings.reuse_cache_mib} is invalid; use 0 to disable the cache")
        self.settings = settings
        self.device = torch.device(device)
        self.autocast_dtype = _AUTOCAST_DTYPES.get(settings.autocast)

    @property
    def tag(self) -> str:
        """The part of a cache key that these settings decide: results differ under another autocast dtype."""
        return f"autocast={self.settings.autocast}"

    def autocast(self) -> ContextManager:
        """Return the autocast context for UNet calls, or a null context."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def no_grad(self) -> ContextManager:
        """Return the context for predictions that never enter autograd, with autocast."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode() if self.settings.inference_mode else torch.no_grad())
        stack.enter_context(self.autocast())
        return stack

    def prepare(self, unet: torch.nn.Module) -> None:
        """Apply the memory format and compilation to `unet` in place; every method sharing the model is affected."""
        if self.settings.channels_last:
            unet.to(memory_format=torch.channels_last)
        if self.settings.compile and not getattr(unet, "_egobench_compiled", False):
            # Blocks are compiled one by one because `unet_prefix` calls them directly; compiling the
            # whole module would leave the prefix and suffix uncompiled.
            for block in [*unet.down_blocks, unet.mid_block, *unet.up_blocks]:
                block.compile(dynamic=False)
            unet._egobench_compiled = True
            logger.info("compiled the UNet blocks with torch.compile; the first iterations include compilation")
