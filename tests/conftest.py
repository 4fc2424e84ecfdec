"""Shared fixtures. POP909 is found through $DIFFBGM_DATA (default: ../shared/data beside the checkout).

Data tests skip when the data is missing on a developer's machine, but fail when
``DIFFBGM_REQUIRE_DATA=1`` (set by ``.ci/run``) so that CI can never pass by skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from repo_paths import REPO_ROOT


def _data_root() -> Path:
    return Path(os.environ.get("DIFFBGM_DATA", REPO_ROOT.parent / "shared" / "data"))


def _require(path: Path) -> Path:
    if not path.exists():
        message = f"POP909 data not found at {path} (set DIFFBGM_DATA)"
        if os.environ.get("DIFFBGM_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The folder holding ``POP909/``, ``POP909-structure/`` and ``pop909_split.json``."""
    return _require(_data_root())


@pytest.fixture(scope="session")
def pop909_root(data_root: Path) -> Path:
    return _require(data_root / "POP909")


@pytest.fixture(scope="session")
def structure_root(data_root: Path) -> Path:
    return _require(data_root / "POP909-structure")


@pytest.fixture(scope="session")
def split_file(data_root: Path) -> Path:
    return _require(data_root / "pop909_split.json")


@pytest.fixture
def one_torch_thread():
    """Tiny tensors: one thread avoids oversubscribing CI's two shared cores (10x slower otherwise)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
