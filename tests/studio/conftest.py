"""Shared by the studio tests: the shipped model's pipeline (loaded once) and a short clip of real photographs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from footage import Clip, Cut, shot_sequence, write_clip  # noqa: E402

from diffbgm.pipeline.scoring import ScoringPipeline  # noqa: E402

CLIP_FPS = 25.0


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The pipeline of the model shipped in the package, on one thread (CI's cores are shared)."""
    import torch

    torch.set_num_threads(1)
    return ScoringPipeline.from_checkpoint(None, cache_dir=tmp_path_factory.mktemp("analysis-cache"))


@pytest.fixture(scope="session")
def short_clip(tmp_path_factory) -> Path:
    """3.2 s at 25 fps, two shots (astronaut, coffee) joined by a hard cut at 1.6 s, with sound."""
    path = tmp_path_factory.mktemp("clips") / "two shots.mp4"
    write_clip(path, Clip(shot_sequence(("astronaut", "coffee"), (40, 40)), edits=(Cut(),), fps=CLIP_FPS, audio=True))
    return path
