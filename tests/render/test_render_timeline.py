"""The score timeline written as OTIO, FCP 7 XML and EDL reads back with OpenTimelineIO: clips and markers."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest

from diffbgm.render.timeline import score_timeline, write_timeline

DURATION_S = 10.0
DOWNBEATS_S = [0.0, 2.05, 4.1, 6.0, 7.95, 10.0]
CUTS_S = [2.0, 6.02]


def _assert_markers(markers, rate: float) -> None:
    """One marker per downbeat and cut, each named for it and on its time to within half a frame."""
    found = {marker.name.lower(): marker.marked_range.start_time.to_seconds() for marker in markers}
    expected = {f"bar {n}": t for n, t in enumerate(DOWNBEATS_S, start=1)}
    expected.update({f"cut {n}": t for n, t in enumerate(CUTS_S, start=1)})
    assert len(markers) == len(expected) and found.keys() == expected.keys()
    for name, time_s in expected.items():
        assert abs(found[name] - time_s) <= 0.5 / rate, name


@pytest.mark.parametrize("rate", [24.0, 30000 / 1001], ids=["24", "29.97"])
@pytest.mark.parametrize("suffix", [".otio", ".xml"])
def test_score_timeline_reads_back_with_picture_music_and_markers(tmp_path, rate, suffix):
    video, music = tmp_path / "film.mp4", tmp_path / "film.wav"
    timeline = score_timeline(video, DURATION_S, DOWNBEATS_S, CUTS_S, music, rate)
    path = write_timeline(timeline, tmp_path / f"film{suffix}")

    back = otio.adapters.read_from_file(str(path))
    (picture,), (sound,) = back.video_tracks(), back.audio_tracks()
    clips = list(picture.find_clips()) + list(sound.find_clips())
    assert [Path(clip.media_reference.target_url).name for clip in clips] == ["film.mp4", "film.wav"]
    for clip in clips:
        assert clip.range_in_parent().start_time.to_seconds() == 0.0
        assert abs(clip.duration().to_seconds() - DURATION_S) <= 0.5 / rate
    _assert_markers(back.tracks.markers, rate)


def test_an_edl_carries_the_picture_and_the_markers(tmp_path):
    rate = 25.0
    timeline = score_timeline(tmp_path / "film.mp4", DURATION_S, DOWNBEATS_S, CUTS_S, tmp_path / "film.wav", rate)
    path = write_timeline(timeline, tmp_path / "film.edl")
    assert "LOC:" in path.read_text()
    back = otio.adapters.read_from_file(str(path), rate=rate)
    (clip,) = back.video_tracks()[0].find_clips()
    assert clip.duration().to_seconds() == DURATION_S
    _assert_markers(clip.markers, rate)
    assert len(timeline.tracks.markers) == len(DOWNBEATS_S) + len(CUTS_S)  # the caller's timeline is untouched


def test_bar_lines_after_the_picture_have_no_marker_and_negative_times_are_refused():
    timeline = score_timeline("film.mp4", DURATION_S, [0.0, 4.0, 8.0, 12.0], [3.0], "film.wav", 24.0)
    assert [marker.name for marker in timeline.tracks.markers] == ["bar 1", "bar 2", "bar 3", "cut 1"]
    with pytest.raises(ValueError, match=r"cut 1 is at a negative time \(-1.000 s\)"):
        score_timeline("film.mp4", DURATION_S, [0.0], [-1.0], "film.wav", 24.0)


def test_unknown_suffixes_are_refused(tmp_path):
    timeline = score_timeline("film.mp4", DURATION_S, DOWNBEATS_S, CUTS_S, "film.wav", 24.0)
    with pytest.raises(ValueError, match="write a timeline as .otio, .xml, .edl"):
        write_timeline(timeline, tmp_path / "film.aaf")
