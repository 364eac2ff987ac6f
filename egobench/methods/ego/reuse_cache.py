"""A bounded cache of UNet results that recur across runs: reference features and source predictions.

F_ref (the reference latent's features) and the two source predictions of the text energy depend
only on the image, the noise draw, the timestep, the prompt, the image tokens and the model, never
on the edited latent. Presets of an ablation that share the image, seed and schedule compute them
again at every iteration, and so do pairs that share a reference photo. This cache keeps them.

Keys are digests of the exact tensors that determine the UNet input (the clean latent, the noise,
the prompt embeddings, the image tokens), plus the timestep and a model tag. A hit therefore returns
what the UNet would compute for the same input, never a neighbour's result. The cache is least recently
used and bounded in bytes; an entry larger than the bound is not stored. Caches are per UNet object,
so only methods that share a loaded model share entries.
"""

from __future__ import annotations

import hashlib
import weakref
from collections import OrderedDict
from typing import Hashable

import torch


def tensor_digest(tensor: torch.Tensor) -> str:
    """Return a digest of a tensor's dtype, shape and values (copied to the CPU)."""
    tensor = tensor.detach()
    # bfloat16 has no numpy dtype; its bits are hashed as int16, which keeps every value distinct.
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.view(torch.int16)
    array = tensor.contiguous().cpu().numpy()
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{array.dtype}{tuple(array.shape)}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


class ReuseCache:
    """A least-recently-used mapping from keys to tensors, holding at most `max_bytes` of tensor data."""

    def __init__(self, max_bytes: int):
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.max_bytes = max_bytes
        self.bytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, torch.Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> torch.Tensor | None:
        """Return the tensor stored under `key` and mark it recently used, or None."""
        tensor = self._entries.get(key)
        if tensor is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return tensor

    def put(self, key: Hashable, tensor: torch.Tensor) -> None:
        """Store a detached copy of `tensor` under `key`, evicting the least recently used entries."""
        size = tensor.numel() * tensor.element_size()
        if size > self.max_bytes:
            return
        if key in self._entries:
            self.bytes -= _size(self._entries.pop(key))
        # A copy, so that later in-place changes to the caller's tensor cannot reach the cache.
        self._entries[key] = tensor.detach().clone()
        self.bytes += size
        while self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= _size(evicted)

    def clear(self) -> None:
        self._entries.clear()
        self.bytes = 0


def _size(tensor: torch.Tensor) -> int:
    return tensor.numel() * tensor.element_size()


_CACHES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def cache_for(unet: torch.nn.Module, max_bytes: int) -> ReuseCache:
    """Return the cache shared by every method that runs `unet`; a larger bound raises its limit."""
    cache = _CACHES.get(unet)
    if cache is None:
        cache = ReuseCache(max_bytes)
        _CACHES[unet] = cache
    elif max_bytes > cache.max_bytes:
        cache.max_bytes = max_bytes
    return cache
