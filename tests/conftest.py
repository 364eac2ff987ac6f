"""Test-wide guards: no hub access, no network beyond loopback, and the shared photos located."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch

# Every loader must work offline; these make the hub libraries fail fast instead of trying a download.
for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE", "DIFFUSERS_OFFLINE"):
    os.environ[variable] = "1"

REPO_ROOT = Path(__file__).resolve().parent.parent

# The test models are tiny, so their operations gain nothing from a second thread. On a busy 2-core
# machine, OpenMP threads spinning while they wait for each other made `python -m pytest` take 9
# minutes instead of 35 s. EGOBENCH_TEST_THREADS overrides the single thread.
torch.set_num_threads(int(os.environ.get("EGOBENCH_TEST_THREADS", "1")))

_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1") or self.family == socket.AF_UNIX):
        return _real_connect(self, address)
    raise OSError(f"tests may not open network connections (attempted {address!r})")


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only_connect)


def shared_data_dir() -> Path:
    """Return the shared photo folder: $EGOBENCH_SHARED_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("EGOBENCH_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def shared_data() -> Path:
    """The shared DreamBooth and DreamEditBench-proxy photos; skips where they are absent."""
    folder = shared_data_dir()
    if not (folder / "dreambooth").is_dir() or not (folder / "dreamedit-proxy").is_dir():
        pytest.skip(f"shared photos not found at {folder}; set EGOBENCH_SHARED_DATA to the folder holding dreambooth/")
    return folder
