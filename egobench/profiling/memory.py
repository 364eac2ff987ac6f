"""Peak-memory meters with a resettable high-water mark, one for CUDA and one for CPU processes.

On CUDA the measure is PyTorch's caching-allocator count of bytes held by tensors
(`torch.cuda.max_memory_allocated`). On CPU PyTorch keeps no such count, so the measure is the
process's resident set size: the peak is Linux's `VmHWM` from /proc/self/status, reset by writing
"5" to /proc/self/clear_refs. RSS counts everything the process touches (tensors, allocator slack,
Python objects), so CPU numbers are upper bounds on tensor memory.

NOTE: glibc keeps some freed blocks below its mmap threshold instead of returning them, so an RSS
peak taken after an earlier, larger stage can under-count a later stage's own allocations.
"""

from __future__ import annotations

import resource
from pathlib import Path

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


class MemoryMeter:
    """The interface: current usage, peak since the last reset, and the reset, all in bytes."""

    name = ""
    resettable = True

    def current(self) -> int:
        raise NotImplementedError

    def peak(self) -> int:
        raise NotImplementedError

    def reset_peak(self) -> None:
        raise NotImplementedError


class CudaMemoryMeter(MemoryMeter):
    """Bytes allocated to tensors on one CUDA device."""

    name = "CUDA max_memory_allocated"

    def __init__(self, device: torch.device):
        self.device = device

    def current(self) -> int:
        return torch.cuda.memory_allocated(self.device)

    def peak(self) -> int:
        return torch.cuda.max_memory_allocated(self.device)

    def reset_peak(self) -> None:
        torch.cuda.reset_peak_memory_stats(self.device)


class ResidentMemoryMeter(MemoryMeter):
    """Resident set size of this process (Linux /proc; elsewhere the lifetime peak from getrusage)."""

    name = "process peak RSS (VmHWM)"

    def __init__(self):
        self.resettable = _can_reset_peak()
        if not self.resettable:
            self.name = "process peak RSS (getrusage, not resettable)"

    def current(self) -> int:
        values = _read_status()
        if "VmRSS" in values:
            return values["VmRSS"]
        return self.peak()

    def peak(self) -> int:
        values = _read_status()
        if "VmHWM" in values:
            return values["VmHWM"]
        # ru_maxrss is in KiB on Linux.
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def reset_peak(self) -> None:
        if self.resettable:
            _CLEAR_REFS.write_text("5")


def memory_meter(device: torch.device) -> MemoryMeter:
    """Return the meter for `device`: CUDA allocator counts on a GPU, RSS on the CPU."""
    if device.type == "cuda":
        return CudaMemoryMeter(device)
    return ResidentMemoryMeter()


def _read_status() -> dict[str, int]:
    try:
        text = _STATUS.read_text()
    except OSError:
        return {}
    values = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return values


def _can_reset_peak() -> bool:
    if "VmHWM" not in _read_status():
        return False
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True
