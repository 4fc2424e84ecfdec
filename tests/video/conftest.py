"""Synthetic videos shared by the video tests (built once per session, a few seconds each)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from synth import hue_colour, moving_square, solid, write_video

FPS = 24.0
SIZE = (160, 120)


@pytest.fixture(scope="session")
def cut_video(tmp_path_factory) -> Path:
    """Red 1 s | hue-only cut to green 1 s | a moving square 1.5 s | a still grey 1.5 s (5 s at 24 fps).

    Cuts at 1.0 s (hue only), 2.0 s and 3.5 s.
    """
    frames = itertools.chain(
        solid(hue_colour(0), 24, SIZE),
        solid(hue_colour(120), 24, SIZE),
        moving_square(36, SIZE, speed_px=3.0),
        solid((128, 128, 128), 36, SIZE),
    )
    return write_video(tmp_path_factory.mktemp("videos") / "cuts.mp4", frames, fps=FPS, audio_s=5.0)
