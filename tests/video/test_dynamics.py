"""Per-frame dynamic features on synthetic frames with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from synth import moving_square, solid

from diffbgm.video.dynamics import FEATURE_NAMES, DynamicsExtractor, colour_stats, mark_cuts


def _run(frames, fps=8.0, cuts=()):
    extractor = DynamicsExtractor(fps)
    for frame in frames:
        extractor.push(frame)
    return mark_cuts(extractor.finish(), cuts)


def test_every_feature_has_one_value_per_frame():
    features = _run(list(solid((10, 20, 30), 5)) + list(moving_square(7)))
    assert tuple(features) == FEATURE_NAMES
    assert all(v.shape == (12,) and v.dtype == np.float32 for v in features.values())


def test_motion_is_higher_where_something_moves():
    still = list(solid((40, 60, 90), 10))
    moving = list(moving_square(10, speed_px=6.0))
    features = _run(still + moving)
    assert features["motion"][12:].mean() > 10 * max(features["motion"][1:10].mean(), 1e-4)


def test_motion_tracks_a_known_shift():
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    texture = np.asarray(np.repeat(np.repeat(texture[::4, ::4], 4, 0), 4, 1))  # 4-px blocks: trackable
    frames = [np.roll(texture, 2 * i, axis=1) for i in range(6)]
    features = _run(frames, fps=8.0)
    # 2 px of 160 per frame at 8 fps = 0.1 frame widths per second.
    assert np.median(features["motion"][1:]) == pytest.approx(0.1, rel=0.2)


@pytest.mark.parametrize("shift_px", [2, 8, 16, 24])
def test_motion_of_a_pan_over_a_photograph_is_its_speed(shift_px):
    # A camera panning over a real photograph, 160 px wide, shift_px a frame at 8 fps. Farneback's flow
    # read two thirds of a slow pan and stopped growing at about 5 px a frame: a fast pan read slower.
    from skimage import data

    photo = data.astronaut()
    frames = [np.ascontiguousarray(photo[100:190, 40 + shift_px * i : 200 + shift_px * i]) for i in range(6)]
    features = _run(frames, fps=8.0)
    assert np.median(features["motion"][1:]) == pytest.approx(shift_px / 160 * 8.0, rel=0.15)


def test_motion_of_a_thin_strip():
    # Shrunk to the flow's width, a 16:1 strip is 8 px high: the flow refused or crashed on such frames.
    rng = np.random.default_rng(1)
    texture = np.repeat(np.repeat(rng.integers(0, 255, (3, 80, 3), dtype=np.uint8), 4, 0), 4, 1)[:10, :160]
    features = _run([np.roll(texture, 4 * i, axis=1) for i in range(4)], fps=8.0)
    assert np.median(features["motion"][1:]) == pytest.approx(4 / 160 * 8.0, rel=0.3)


def test_colour_statistics_of_known_colours():
    grey = colour_stats(np.full((8, 8, 3), 128, np.uint8))
    assert grey["brightness"] == pytest.approx(128 / 255, abs=0.01)
    assert grey["saturation"] == 0 and grey["colourfulness"] == 0 and grey["warmth"] == 0
    orange = colour_stats(np.full((8, 8, 3), (240, 140, 20), np.uint8))
    blue = colour_stats(np.full((8, 8, 3), (20, 60, 220), np.uint8))
    assert orange["warmth"] > 0.5 > -0.5 > blue["warmth"]
    assert orange["colourfulness"] > 0.3 and orange["saturation"] > 0.8


def test_cut_flags_and_motion_at_a_cut():
    frames = list(solid((0, 0, 0), 4)) + list(moving_square(6, speed_px=5.0))
    features = _run(frames, cuts=[4])
    assert features["cut"].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]
    assert features["motion"][4] == features["motion"][5]  # not the black-to-picture jump


def test_saliency_peaks_at_a_flash():
    frames = list(solid((50, 50, 50), 10)) + list(solid((250, 250, 250), 1)) + list(solid((50, 50, 50), 10))
    saliency = _run(frames)["saliency"]
    assert set(np.flatnonzero(saliency > 0.3)) == {10, 11}
