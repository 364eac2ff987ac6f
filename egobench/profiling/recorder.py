"""A stage recorder: wall time, counted FLOPs and peak memory for each stage of each iteration.

Stages may nest. A stage's time and FLOPs exclude its inner stages, which are reported on their
own, but its peak memory includes them. Time not spent in any stage is reported as
`other`, inside an iteration or outside one. Peak memory is the high-water mark during the stage
minus the usage when the stage started.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from egobench.profiling.memory import MemoryMeter

OTHER = "other"
OUTSIDE = None


@dataclass
class StageMeasure:
    """The cost of one stage, summed over its calls in one iteration (or outside the iterations)."""

    seconds: float = 0.0
    flops: int = 0
    peak_bytes: int = 0
    calls: int = 0

    def add(self, seconds: float, flops: int, peak_bytes: int) -> None:
        self.seconds += seconds
        self.flops += flops
        self.peak_bytes = max(self.peak_bytes, peak_bytes)
        self.calls += 1


@dataclass
class IterationMeasure:
    """One optimisation step: its timestep and the stages it ran."""

    index: int
    timestep: int
    stages: dict[str, StageMeasure] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(measure.seconds for measure in self.stages.values())

    @property
    def flops(self) -> int:
        return sum(measure.flops for measure in self.stages.values())

    @property
    def peak_bytes(self) -> int:
        return max((measure.peak_bytes for measure in self.stages.values()), default=0)


@dataclass
class _Frame:
    name: str
    started: float
    flops_at_start: int
    memory_at_start: int
    peak: int
    inner_seconds: float = 0.0
    inner_flops: int = 0
    annotation: object | None = None


class StageRecorder:
    """Receives the pipeline's stage hooks (see `egobench.profiling.stages`) and measures each stage.

    Args:
        device: synchronised before each clock reading when it is a CUDA device, so that time is
            charged to the stage that queued the work.
        flops: a `FlopCounterMode` the caller has entered around the profiled code, or None.
        memory: a `MemoryMeter`, or None to skip memory.
        annotate: also open a `torch.profiler.record_function` per stage, for Chrome traces.
    """

    def __init__(self, device: torch.device, flops: FlopCounterMode | None = None, memory: MemoryMeter | None = None, annotate: bool = False):
        self.device = device
        self.flops = flops
        self.memory = memory
        self.annotate = annotate
        self.iterations: list[IterationMeasure] = []
        self.outside: dict[str, StageMeasure] = {}
        self.total_seconds = 0.0
        self.total_peak_bytes = 0
        self.absolute_peak_bytes = 0
        self._stack: list[_Frame] = []
        self._current: IterationMeasure | None = None

    def start(self) -> None:
        """Open the root frame. Call it before the profiled code runs."""
        self._stack = [self._open(OTHER)]

    def stop(self) -> None:
        """Close the root frame. Its exclusive time becomes the `other` stage outside iterations."""
        root = self._stack.pop()
        seconds, flops, peak = self._close(root)
        self.outside.setdefault(OTHER, StageMeasure()).add(seconds, flops, peak)
        self.total_seconds = root.inner_seconds + seconds
        self.total_peak_bytes = peak

    def enter_stage(self, name: str) -> None:
        self._stack.append(self._open(name))

    def exit_stage(self, name: str) -> None:
        frame = self._stack.pop()
        if frame.name != name:
            raise RuntimeError(f"stage {name!r} closed while {frame.name!r} was open")
        seconds, flops, peak = self._close(frame)
        stages = self._current.stages if self._current is not None else self.outside
        stages.setdefault(name, StageMeasure()).add(seconds, flops, peak)

    def enter_iteration(self, index: int, timestep: int) -> None:
        self._current = IterationMeasure(index, timestep)
        self._stack.append(self._open(OTHER))

    def exit_iteration(self) -> None:
        frame = self._stack.pop()
        seconds, flops, peak = self._close(frame)
        self._current.stages.setdefault(OTHER, StageMeasure()).add(seconds, flops, peak)
        self.iterations.append(self._current)
        self._current = None

    def _now(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        return time.perf_counter()

    def _flop_total(self) -> int:
        return self.flops.get_total_flops() if self.flops is not None else 0

    def _fold_memory_peak(self) -> int:
        """Fold the meter's peak into every open frame, reset it, and return current usage."""
        if self.memory is None:
            return 0
        peak = self.memory.peak()
        self.absolute_peak_bytes = max(self.absolute_peak_bytes, peak)
        for frame in self._stack:
            frame.peak = max(frame.peak, peak)
        self.memory.reset_peak()
        return self.memory.current()

    def _open(self, name: str) -> _Frame:
        usage = self._fold_memory_peak()
        frame = _Frame(name, self._now(), self._flop_total(), usage, usage)
        if self.annotate:
            frame.annotation = torch.profiler.record_function(f"egobench/{name}")
            frame.annotation.__enter__()
        return frame

    def _close(self, frame: _Frame) -> tuple[float, int, int]:
        """Return the frame's exclusive seconds and FLOPs and its peak increase, and charge its parent."""
        ended = self._now()
        if frame.annotation is not None:
            frame.annotation.__exit__(None, None, None)
        self._stack.append(frame)
        self._fold_memory_peak()
        self._stack.pop()
        elapsed = ended - frame.started
        flops = self._flop_total() - frame.flops_at_start
        if self._stack:
            parent = self._stack[-1]
            parent.inner_seconds += elapsed
            parent.inner_flops += flops
        return elapsed - frame.inner_seconds, flops - frame.inner_flops, max(0, frame.peak - frame.memory_at_start)
