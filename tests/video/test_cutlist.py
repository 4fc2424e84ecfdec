"""Cut lists: our own formats round-trip, editors' timelines (EDL, FCP XML, OTIO) read back to the frame,
and every bad file is a one-line error naming it."""

from __future__ import annotations

import json

import opentimelineio as otio
import pytest
from opentimelineio.opentime import RationalTime, TimeRange

from diffbgm.video.cutlist import MAX_CUTS, MIN_MEAN_SHOT_S, CutListError, parse_time, read_cut_list, read_cuts
from diffbgm.video.shots import ShotList

SHOTS = ShotList((1.25, 3.5, 7.125), 10.0)
NTSC = 30000 / 1001


@pytest.mark.parametrize("writer, name", [("to_json", "cuts.json"), ("to_csv", "cuts.csv")])
def test_plain_lists_round_trip(tmp_path, writer, name):
    getattr(SHOTS, writer)(tmp_path / name)
    assert read_cut_list(tmp_path / name, 10.0) == SHOTS


def test_a_list_without_cuts_round_trips(tmp_path):
    single = ShotList((), 10.0)
    single.to_csv(tmp_path / "none.csv")
    assert read_cut_list(tmp_path / "none.csv", 10.0) == single


@pytest.mark.parametrize("fps", [8.0, 25.0])
def test_scenedetect_scene_list_round_trip(tmp_path, fps):
    SHOTS.to_scenedetect_csv(tmp_path / "scenes.csv", fps=fps)
    assert read_cut_list(tmp_path / "scenes.csv", 10.0, fps) == SHOTS
    assert read_cuts(tmp_path / "scenes.csv").file_format == "scenedetect_csv"


def test_scenedetect_scene_list_with_and_without_its_cut_line(tmp_path):
    SHOTS.to_scenedetect_csv(tmp_path / "scenes.csv", fps=8.0)
    lines = (tmp_path / "scenes.csv").read_text().splitlines()
    assert not lines[0].startswith("Scene Number")  # PySceneDetect's first line lists the cuts
    (tmp_path / "skip_cuts.csv").write_text("\n".join(lines[1:]) + "\n")
    (tmp_path / "labelled.csv").write_text("\n".join(["Timecode List:," + lines[0], *lines[1:]]) + "\n")
    (tmp_path / "quoted.csv").write_text('"Scene Number","Start Time (seconds)"\n' + "".join(
        f'{n},"{start}"\n' for n, (start, _) in enumerate(SHOTS.shots, start=1)))
    for name in ("skip_cuts.csv", "labelled.csv", "quoted.csv"):
        assert read_cut_list(tmp_path / name, 10.0) == SHOTS


def test_times_in_every_plain_notation(tmp_path):
    (tmp_path / "clock.txt").write_text("# my cuts\n00:00:01.250\n0:03.5\n7.125\n")
    assert read_cut_list(tmp_path / "clock.txt", 10.0) == SHOTS
    (tmp_path / "one_line.csv").write_text("1.25, 00:03.500, 00:00:07.125\n")
    assert read_cut_list(tmp_path / "one_line.csv", 10.0) == SHOTS
    (tmp_path / "smpte.txt").write_text("00:00:01:06\n00:00:03:12\n00:00:07:03\n")
    assert read_cut_list(tmp_path / "smpte.txt", 10.0, fps=24.0) == SHOTS
    assert parse_time("01:02:03.5") == 3723.5


def test_drop_frame_timecodes_count_ntsc_frames():
    # 00:01:00;02 is frame 1800: drop-frame skips labels ;00 and ;01 at each minute but the tenth.
    assert parse_time("00:01:00;02", fps=NTSC) == pytest.approx(1800 * 1001 / 30000)
    assert parse_time("00:01:00:02", fps=29.97) == pytest.approx(1802 * 1001 / 30000)  # non-drop


@pytest.mark.parametrize("document", [
    [1.25, "00:00:03.500", 7.125],
    {"cuts_s": [1.25, 3.5, 7.125], "duration_s": 10.0},
    [[0.0, 1.25], [1.25, 3.5], [3.5, 7.125], [7.125, 10.0]],
    {"scenes": [{"start": 0.0, "end": 1.25}, {"start": 1.25}, {"start_s": "00:03.5"}, {"start": 7.125}]},
])
def test_json_times_and_scenes(tmp_path, document):
    (tmp_path / "cuts.json").write_text(json.dumps(document))
    assert read_cut_list(tmp_path / "cuts.json", 10.0) == SHOTS


# --- editors' timelines ---------------------------------------------------------------------------

CLIP_FRAMES = (48, 30, 60, 20)
DISSOLVE_FRAMES = 12  # centred on the cut between the second and the third clip


def _edit(rate: float) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name="edit", global_start_time=RationalTime(round(3600 * rate), rate))
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    for number, frames in enumerate(CLIP_FRAMES):
        media = otio.schema.ExternalReference(target_url=f"file:///footage/shot{number}.mov",
                                              available_range=TimeRange(RationalTime(0, rate), RationalTime(500, rate)))
        if number == 2:
            half = RationalTime(DISSOLVE_FRAMES // 2, rate)
            track.append(otio.schema.Transition(transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                                                in_offset=half, out_offset=half))
        track.append(otio.schema.Clip(name=f"shot{number}", media_reference=media,
                                      source_range=TimeRange(RationalTime(100, rate), RationalTime(frames, rate))))
    return timeline


@pytest.mark.parametrize("rate", [24.0, NTSC], ids=["24", "29.97"])
@pytest.mark.parametrize("adapter, suffix", [("cmx_3600", "edl"), ("fcp_xml", "xml"), ("otio_json", "otio")])
def test_editors_timelines_read_back_to_the_frame(tmp_path, rate, adapter, suffix):
    path = tmp_path / f"edit.{suffix}"
    otio.adapters.write_to_file(_edit(rate), str(path), adapter_name=adapter)
    starts = [sum(CLIP_FRAMES[:n]) / rate for n in range(1, len(CLIP_FRAMES))]
    duration = sum(CLIP_FRAMES) / rate

    read = read_cuts(path, fps=rate)
    assert read.cuts_s == pytest.approx(starts, abs=0.5 / rate)
    half = DISSOLVE_FRAMES / 2 / rate
    assert len(read.transitions_s) == 1
    assert read.transitions_s[0] == pytest.approx((starts[1] - half, starts[1] + half), abs=0.5 / rate)
    assert read_cut_list(path, duration, fps=rate).cuts_s == pytest.approx(starts, abs=0.5 / rate)


EDL_AT_ONE_HOUR = """TITLE: reel one
FCM: NON-DROP FRAME

001  AX       V     C        00:00:10:00 00:00:12:00 01:00:00:00 01:00:02:00
* FROM CLIP NAME: a.mov
002  AX       V     C        00:00:05:00 00:00:06:12 01:00:02:00 01:00:03:12
* FROM CLIP NAME: b.mov
003  AX       V     C        00:00:20:00 00:00:22:00 01:00:03:12 01:00:05:12
* FROM CLIP NAME: c.mov
"""


def test_an_edl_recorded_from_one_hour_counts_from_its_first_event(tmp_path):
    (tmp_path / "reel.edl").write_text(EDL_AT_ONE_HOUR)
    assert read_cut_list(tmp_path / "reel.edl", 5.5, fps=24.0).cuts_s == (2.0, 3.5)
    (tmp_path / "no_suffix.txt").write_text(EDL_AT_ONE_HOUR)
    assert read_cuts(tmp_path / "no_suffix.txt", fps=24.0).file_format == "edl"


# --- bad files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, content, fps, message", [
    ("empty.csv", "\n  \n", None, "is empty"),
    ("binary.csv", b"\x00\x01\x02PK\x03\x04", None, "binary file"),
    ("latin1.txt", "1.0\ncaf\xe9\n".encode("latin-1"), None, "not UTF-8"),
    ("no_header.csv", "Start Time (seconds),Scene Number\n0.0,1\n", None, "no PySceneDetect header row"),
    ("no_column.csv", "Scene Number,Start Frame\n1,1\n", None, "column"),
    ("no_scenes.csv", "Scene Number,Start Time (seconds)\n", None, "no scenes"),
    ("words.txt", "cuts are here\n", None, "no cut times"),
    ("soon.csv", "cut_s\n1.0\nsoon\n", None, "'soon' is not a time"),
    ("nan.csv", "1.0\nnan\n", None, "'nan' is not a time"),
    ("negative.csv", "-1.0\n2.0\n", None, "negative time"),
    ("order.csv", "2.0\n1.0\n", None, r"cut 2 \(1.000 s\) is not after cut 1"),
    ("twice.csv", "2.0\n2.0\n", None, "is not after"),
    ("smpte.txt", "00:00:01:12\n", None, "need the video's frame rate"),
    ("frames.txt", "00:00:01:30\n", 24.0, "not a timecode at 24 fps"),
    ("odd_rate.txt", "00:00:01:10\n", 17.0, "not a SMPTE timecode rate"),
    ("broken.json", "{broken", None, "not valid JSON"),
    ("object.json", '{"times": [1]}', None, "expected a list"),
    ("flag.json", "[true]", None, "is not a time"),
    ("scene.json", '[{"end": 2.0}]', None, "without a start"),
    ("broken.edl", "TITLE: x\n\n001  AX  V  C  00:00:00:00 00:00:02:00 01:00:00:00\n", 24.0,
     "cannot read it as cmx_3600"),
    ("no_rate.edl", EDL_AT_ONE_HOUR, None, "need the video's frame rate"),
    ("broken.xml", "<xmeml><sequence>", None, "cannot read it as fcp_xml"),
    ("broken.otio", '{"OTIO_SCHEMA": "Nonsense.1"}', None, "holds no timeline"),
    ("cut.fcpxml", "<fcpxml/>", None, "Final Cut Pro X"),
])
def test_bad_files_are_one_line_errors_naming_the_file(tmp_path, name, content, fps, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CutListError, match=message) as error:
        read_cut_list(path, 10.0, fps)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_cuts_after_the_video_are_counted_not_dropped(tmp_path):
    (tmp_path / "long.csv").write_text("2.0\n11.0\n12.5\n")
    with pytest.raises(CutListError, match=r"2 of 3 cuts are after the video's end \(10.000 s\), the first at 11.000"):
        read_cut_list(tmp_path / "long.csv", 10.0)
    (tmp_path / "end.csv").write_text("2.0\n10.01\n")
    assert read_cut_list(tmp_path / "end.csv", 10.0, fps=25.0).cuts_s == (2.0,)  # within half a frame: the end


def test_more_cuts_than_a_video_can_hold_are_refused(tmp_path):
    dense = tmp_path / "dense.csv"
    dense.write_text("".join(f"{0.2 * k:.1f}\n" for k in range(1, 50)))  # every 0.2 s of a 10-s video
    with pytest.raises(CutListError, match=r"49 cuts for a 10.000-s video; at most 40 \(one per 0.25 s"):
        read_cut_list(dense, 10.0)
    assert len(read_cut_list(dense, 49 * MIN_MEAN_SHOT_S).cuts_s) == 49  # just enough video
    many = tmp_path / "many.csv"
    many.write_text("".join(f"{0.3 * k:.1f}\n" for k in range(1, MAX_CUTS + 2)))
    with pytest.raises(CutListError, match=f"{MAX_CUTS + 1} cuts .* {MAX_CUTS} in all"):
        read_cut_list(many, 3.0 * 3600)


def test_shot_list_from_file_reads_every_format(tmp_path):
    (tmp_path / "reel.edl").write_text(EDL_AT_ONE_HOUR)
    assert ShotList.from_file(tmp_path / "reel.edl", 5.5, fps=24.0).cuts_s == (2.0, 3.5)


def test_black_gaps_are_shots_and_empty_events_or_a_fade_in_are_not(tmp_path):
    def span(n_frames: int) -> TimeRange:
        return TimeRange(RationalTime(0, 24), RationalTime(n_frames, 24))

    timeline = otio.schema.Timeline()
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    timeline.tracks.append(track)
    track.append(otio.schema.Transition(in_offset=RationalTime(0, 24), out_offset=RationalTime(6, 24)))  # fade in
    track.extend([otio.schema.Clip(source_range=span(48)), otio.schema.Gap(source_range=span(0)),
                  otio.schema.Clip(source_range=span(24)), otio.schema.Gap(source_range=span(12)),
                  otio.schema.Clip(source_range=span(24))])
    otio.adapters.write_to_file(timeline, str(tmp_path / "gaps.otio"))
    read = read_cuts(tmp_path / "gaps.otio")
    assert read.cuts_s == (2.0, 3.0, 3.5) and read.transitions_s == ()
