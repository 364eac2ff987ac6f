"""Fixtures that build benchmark folders in a temporary directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_data import build_dreamedit_folder, build_piebench_folder


@pytest.fixture
def dreamedit_folder(tmp_path) -> tuple[Path, Path]:
    return build_dreamedit_folder(tmp_path)


@pytest.fixture
def piebench_folder(tmp_path) -> Path:
    return build_piebench_folder(tmp_path / "pie")
