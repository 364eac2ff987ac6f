"""Stage hooks that mark the steps of the EGO-Edit loop for the profiler; no-ops unless one records.

The pipeline wraps each step in `with stage("feature_forward"):` and each optimisation step in
`with iteration(index, timestep):`. With no recorder installed, both cost one context-variable
lookup, so the instrumented loop runs as before when no profiler is installed. `recording(recorder)`
installs a recorder for the current thread or task; `egobench.profiling.recorder.StageRecorder`
measures time, FLOPs and memory per stage.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Iterator, Protocol


class Recorder(Protocol):
    """Receiver of the stage and iteration events that the hooks emit."""

    def enter_stage(self, name: str) -> None: ...

    def exit_stage(self, name: str) -> None: ...

    def enter_iteration(self, index: int, timestep: int) -> None: ...

    def exit_iteration(self) -> None: ...


_RECORDER: ContextVar[Recorder | None] = ContextVar("egobench_stage_recorder", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Mark the enclosed code as the stage `name` for the active recorder, if any."""
    recorder = _RECORDER.get()
    if recorder is None:
        yield
        return
    recorder.enter_stage(name)
    try:
        yield
    finally:
        recorder.exit_stage(name)


@contextmanager
def iteration(index: int, timestep: int) -> Iterator[None]:
    """Mark the enclosed code as optimisation step `index` at `timestep` for the active recorder."""
    recorder = _RECORDER.get()
    if recorder is None:
        yield
        return
    recorder.enter_iteration(index, timestep)
    try:
        yield
    finally:
        recorder.exit_iteration()


@contextmanager
def recording(recorder: Recorder) -> Iterator[Recorder]:
    """Send the hooks inside this block to `recorder`."""
    token = _RECORDER.set(recorder)
    try:
        yield recorder
    finally:
        _RECORDER.reset(token)
