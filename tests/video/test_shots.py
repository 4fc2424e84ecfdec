"""Shot detection on synthetic cuts, and the cut-list formats (round trips)."""

from __future__ import annotations

import itertools
import json

import pytest
from scenedetect.detectors import ContentDetector
from synth import fade, hue_colour, moving_square, solid, write_video

from diffbgm.video.decode import iter_frames
from diffbgm.video.cutlist import parse_time
from diffbgm.video.shots import DETECTORS, ShotDetector, ShotList

ANALYSIS_FPS = 8.0


def _detect(path, detector: ShotDetector) -> list[float]:
    for frame in iter_frames(path, fps=ANALYSIS_FPS, max_side=160):
        detector.push(frame.time_s, frame.rgb)
    return detector.finish()


def test_colour_and_hue_only_cuts_found_within_one_frame(cut_video):
    cuts = _detect(cut_video, ShotDetector(ANALYSIS_FPS))
    assert len(cuts) == 3
    for found, true in zip(cuts, [1.0, 2.0, 3.5]):
        assert abs(found - true) <= 1.0 / ANALYSIS_FPS


def test_stock_pyscenedetect_weights_miss_the_hue_only_cut(tmp_path):
    """Why our defaults differ from PySceneDetect's: its stock ContentDetector misses a hue-only cut."""
    path = write_video(tmp_path / "hue.mp4", itertools.chain(solid(hue_colour(0), 24), solid(hue_colour(120), 24)))
    assert _detect(path, ShotDetector(ANALYSIS_FPS)) == [1.0]
    stock = ShotDetector(ANALYSIS_FPS)
    stock._detector = ContentDetector(min_scene_len=0.5)
    assert _detect(path, stock) == []


def test_a_slow_fade_to_dark_is_not_a_cut(tmp_path):
    lit, dark = (200, 100, 50), (40, 20, 10)  # same hue and saturation, as when a picture fades out
    frames = itertools.chain(solid(lit, 12), fade(lit, dark, 36), solid(dark, 12))
    assert _detect(write_video(tmp_path / "fade.mp4", frames), ShotDetector(ANALYSIS_FPS)) == []


def _still(square_rgb) -> list:
    return list(moving_square(1, square=square_rgb))


@pytest.mark.parametrize("name", DETECTORS)
def test_every_detector_finds_a_cut_through_black(tmp_path, name):
    frames = _still((230, 200, 40)) * 24 + list(solid((0, 0, 0), 24)) + _still((40, 200, 230)) * 24
    cuts = _detect(write_video(tmp_path / "black.mp4", frames), ShotDetector(ANALYSIS_FPS, name))
    # The threshold detector puts its cut in the middle of the black; the others at its edges.
    expected = [1.5] if name == "threshold" else [1.0, 2.0]
    assert cuts and all(min(abs(t - e) for e in expected) <= 1 / ANALYSIS_FPS for t in cuts)


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match="unknown detector"):
        ShotDetector(8.0, "magic")


SHOTS = ShotList((1.25, 3.5, 7.125), 10.0)


def test_shots_cover_the_video():
    assert SHOTS.shots == [(0.0, 1.25), (1.25, 3.5), (3.5, 7.125), (7.125, 10.0)]
    assert ShotList.from_shots(SHOTS.shots) == SHOTS
    assert ShotList((0.0, 12.0, 2.0, 2.0), 10.0).cuts_s == (2.0,)  # sorted, deduplicated, inside


@pytest.mark.parametrize("writer, name", [("to_json", "cuts.json"), ("to_csv", "cuts.csv")])
def test_plain_cut_list_round_trip(tmp_path, writer, name):
    getattr(SHOTS, writer)(tmp_path / name)
    assert ShotList.from_file(tmp_path / name, 10.0) == SHOTS


def test_scenedetect_scene_list_round_trip(tmp_path):
    SHOTS.to_scenedetect_csv(tmp_path / "scenes.csv", fps=8.0)
    text = (tmp_path / "scenes.csv").read_text()
    assert "Scene Number" in text and "Start Time (seconds)" in text
    assert ShotList.from_file(tmp_path / "scenes.csv", 10.0) == SHOTS


def test_user_lists_in_timecodes_and_bare_json(tmp_path):
    (tmp_path / "mine.txt").write_text("00:00:01.250\n0:03.5\n7.125\n")
    assert ShotList.from_file(tmp_path / "mine.txt", 10.0) == SHOTS
    (tmp_path / "mine.json").write_text(json.dumps([1.25, "00:00:03.500", 7.125]))
    assert ShotList.from_file(tmp_path / "mine.json", 10.0) == SHOTS
    assert parse_time("01:02:03.5") == 3723.5


def test_bad_cut_list_is_a_clear_error(tmp_path):
    (tmp_path / "bad.csv").write_text("cut_s\n1.0\nsoon\n")
    with pytest.raises(ValueError, match="'soon' is not a time"):
        ShotList.from_file(tmp_path / "bad.csv", 10.0)
    (tmp_path / "bad.json").write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        ShotList.from_file(tmp_path / "bad.json", 10.0)
