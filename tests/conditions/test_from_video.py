"""Tests of the video -> per-beat conditions mapping on a hand-made analysis."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.conditions.dynamic import DYNAMIC_FEATURES, TYPICAL_RANGE
from diffbgm.conditions.from_video import (
    CALIBRATED_RANGE,
    VideoConditions,
    beat_means,
    condition_windows,
    conditions_from_video,
    window_spans,
)
from diffbgm.conditions.mood import describe
from diffbgm.music.mood import Mood
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.music.planner import plan_timing
from diffbgm.video.analysis import VideoAnalysis

FPS = 24.0
DENSITY, STRENGTH, REGISTER, BOUNDARY = (DYNAMIC_FEATURES.index(n) for n in DYNAMIC_FEATURES)


def _two_shot_video() -> VideoAnalysis:
    """8 s calm dark shot, then 8 s bright busy shot, cut at 8 s (4 bars each at 120 BPM)."""
    times = np.arange(int(16 * FPS)) / FPS
    second = times >= 8.0
    motion = np.where(second, 5.0, 0.5) + 0.01 * np.sin(times)
    brightness = np.where(second, 0.8, 0.2)
    saliency = np.where(second, 0.6, 0.3)
    difference = np.zeros_like(times)
    difference[int(8 * FPS)] = 0.7
    return VideoAnalysis(
        duration_s=16.0,
        fps=FPS,
        width=64,
        height=36,
        frame_times=times,
        cuts_s=[8.0],
        shots=[(0.0, 8.0), (8.0, 16.0)],
        features={"motion": motion, "brightness": brightness, "saliency": saliency,
                  "difference": difference},
        image_embeddings=np.zeros((len(times), 1280), np.float32),
        shot_captions=["a dark room", "a bright street"],
        shot_moods=[Mood(-0.6, -0.5), Mood(0.8, 0.5)],
    )


def test_beat_means_average_frames_inside_each_beat():
    times = np.arange(8) * 0.25
    values = np.arange(8, dtype=float)
    np.testing.assert_allclose(beat_means(times, values, np.array([0.0, 1.0, 2.0])), [1.5, 5.5])


def test_conditions_follow_the_shots():
    analysis = _two_shot_video()
    plan = plan_timing(analysis.duration_s, [8.0])
    conditions = conditions_from_video(analysis, plan)
    assert conditions.dynamic.shape == (plan.n_beats, 4) and conditions.dynamic.dtype == np.float32
    first, second = conditions.segments == 0, conditions.segments == 1
    cut_beat = int(np.argmax(second))
    assert plan.beats_s[cut_beat] == pytest.approx(8.0)
    assert conditions.dynamic[:, BOUNDARY].nonzero()[0].tolist() == [0, cut_beat]
    for feature in (DENSITY, REGISTER):
        assert conditions.dynamic[second, feature].mean() > conditions.dynamic[first, feature].mean()
    for index, name in enumerate(DYNAMIC_FEATURES):
        low, high = (CALIBRATED_RANGE if name in CALIBRATED_RANGE else TYPICAL_RANGE)[name]
        assert conditions.dynamic[:, index].min() >= low - 1e-6
        assert conditions.dynamic[:, index].max() <= high + 1e-6
    assert conditions.dynamic[cut_beat, STRENGTH] == pytest.approx(TYPICAL_RANGE["strength"][1])
    assert conditions.intensity[second].mean() > conditions.intensity[first].mean()


def _one_shot_video(motion_fw_s: float, brightness: float) -> VideoAnalysis:
    times = np.arange(0.0, 16.0, 0.125)
    wobble = 0.1 * np.sin(times)  # some life inside the shot, as real footage has
    return VideoAnalysis(
        duration_s=16.0, fps=24.0, width=160, height=90, frame_times=times, cuts_s=[], shots=[(0.0, 16.0)],
        features={"motion": motion_fw_s * (1 + wobble), "brightness": brightness * (1 + wobble),
                  "saliency": np.zeros_like(times), "difference": np.zeros_like(times)},
        image_embeddings=np.zeros((len(times), 1280), np.float32), shot_captions=[""], shot_moods=[Mood(0.0, 0.0)],
    )


def test_a_calm_video_stays_calm_and_a_frantic_one_busy():
    # Each video was stretched to its own range before: a still, dark video asked for as many notes, as
    # high, as a fast, bright one. Now the scale is absolute.
    plan = plan_timing(16.0, [])
    calm = conditions_from_video(_one_shot_video(0.005, 0.15), plan).dynamic
    frantic = conditions_from_video(_one_shot_video(0.4, 0.8), plan).dynamic
    assert frantic[:, DENSITY].mean() > calm[:, DENSITY].mean() + 0.4
    assert frantic[:, REGISTER].mean() > calm[:, REGISTER].mean() + 0.2


def test_the_mood_moves_density_register_and_velocity():
    plan = plan_timing(16.0, [])
    analysis = _one_shot_video(0.05, 0.5)
    sad = conditions_from_video(analysis, plan, mood=Mood(-0.8, -0.5))
    happy = conditions_from_video(analysis, plan, mood=Mood(0.8, 0.6))
    assert happy.dynamic[:, DENSITY].mean() > sad.dynamic[:, DENSITY].mean()
    assert happy.dynamic[:, REGISTER].mean() > sad.dynamic[:, REGISTER].mean()
    assert happy.intensity.mean() > sad.intensity.mean()


def test_descriptions_come_from_shot_moods_or_override():
    analysis = _two_shot_video()
    plan = plan_timing(analysis.duration_s, [8.0])
    conditions = conditions_from_video(analysis, plan)
    assert len(set(conditions.descriptions)) == 2
    assert conditions.descriptions[0].startswith(" and ".join(Mood(-0.6, -0.5).nearest_words(2)))
    assert conditions.descriptions[-1].startswith(" and ".join(Mood(0.8, 0.5).nearest_words(2)))
    calm = Mood(0.3, -0.8)
    overridden = conditions_from_video(analysis, plan, mood=calm)
    assert all(text.startswith(" and ".join(calm.nearest_words(2))) for text in overridden.descriptions)
    assert overridden.descriptions[0] == describe(
        calm, plan.tempo_bpm,
        float(overridden.dynamic[overridden.segments == 0, DENSITY].mean()),
        float(overridden.dynamic[overridden.segments == 0, REGISTER].mean()),
    )


def test_window_spans_cover_with_overlap_and_pad_the_last():
    spans = window_spans(70, window_beats=32, overlap_beats=8)
    assert [s.start_beat for s in spans] == [0, 24, 48]
    assert [s.n_valid for s in spans] == [32, 32, 22]
    assert window_spans(20) == [window_spans(20)[0]] and window_spans(20)[0].n_valid == 20
    with pytest.raises(ValueError):
        window_spans(10, overlap_beats=32)


def test_condition_windows_pad_by_repeating_the_last_beat():
    n = 40
    dynamic = np.tile(np.arange(n, dtype=np.float32)[:, None], (1, 4))
    dynamic[-1, BOUNDARY] = 1.0
    conditions = VideoConditions(dynamic, np.arange(n) // 10, ["x"] * n, np.zeros(n, np.float32))
    semantic = np.arange(n, dtype=np.float32)[:, None].repeat(3, axis=1)
    batch = condition_windows(conditions, semantic, window_spans(n, 32, 8))
    assert tuple(batch.dynamic.shape) == (2, 32, 4) and tuple(batch.semantic.shape) == (2, 32, 3)
    assert batch.segments[1, :16].tolist() == (np.arange(24, 40) // 10).tolist()
    assert (batch.segments[1, 16:] == 3).all()
    assert (batch.dynamic[1, 16:, DENSITY] == n - 1).all()
    assert (batch.dynamic[1, 16:, BOUNDARY] == 0).all()
    assert batch.dynamic[1, 15, BOUNDARY] == 1.0
    assert (batch.semantic[1, 16:, 0] == n - 1).all()


def test_semantic_embeds_each_shot_description():
    analysis = _two_shot_video()
    plan = plan_timing(analysis.duration_s, [8.0])
    conditions = conditions_from_video(analysis, plan)
    semantic = conditions.semantic(SentenceEmbedder())
    assert semantic.shape == (plan.n_beats, 384) and semantic.dtype == np.float32
    first, second = conditions.segments == 0, conditions.segments == 1
    np.testing.assert_allclose(semantic[first], semantic[first][:1].repeat(first.sum(), axis=0))
    assert float(semantic[first][0] @ semantic[second][0]) < 0.99
