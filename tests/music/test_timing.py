"""Tests of the video -> music bar-grid solver on hand-made cut lists."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.music.timing import TimingConfig, VideoTooShortError, plan_timing

FRAME_S = 1.0 / 24.0


def test_regular_cuts_at_120_bpm_are_exact():
    plan = plan_timing(20.0, np.arange(2.0, 20.0, 2.0))
    assert plan.n_bars == 10
    assert plan.tempo_bpm == pytest.approx(120.0)
    np.testing.assert_allclose(plan.bar_bpm, 120.0)
    assert plan.cut_kept.all()
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_irregular_cuts_mostly_land_on_downbeats_within_bounds(seed):
    rng = np.random.default_rng(seed)
    cuts = np.cumsum(rng.uniform(2.0, 5.0, size=15))
    duration = float(cuts[-1] + rng.uniform(2.0, 4.0))
    plan = plan_timing(duration, cuts)
    assert plan.aligned_fraction >= 0.8
    assert plan.bar_bpm.min() >= 70.0 - 1e-6 and plan.bar_bpm.max() <= 140.0 + 1e-6
    assert abs(plan.downbeats_s[-1] - duration) < FRAME_S
    assert plan.downbeats_s[0] == 0.0
    assert len(plan.beats_s) == 4 * plan.n_bars + 1
    np.testing.assert_allclose(plan.beats_s[::4], plan.downbeats_s)


def test_short_shot_is_merged_not_forced():
    # A 0.8 s shot cannot be a whole bar at <= 140 BPM: its cut is dropped, the others stay exact.
    cuts = [4.0, 4.8, 8.0, 12.0]
    plan = plan_timing(16.0, cuts)
    assert plan.cut_kept.tolist() == [True, False, True, True]
    assert plan.bar_bpm.max() <= 140.0 + 1e-6


def test_narrow_tempo_range_is_respected():
    config = TimingConfig(bpm_range=(90.0, 100.0))
    plan = plan_timing(30.0, [5.0, 11.0, 19.5], config)
    assert plan.bar_bpm.min() >= 90.0 - 1e-6 and plan.bar_bpm.max() <= 100.0 + 1e-6
    assert abs(plan.downbeats_s[-1] - 30.0) < FRAME_S


def test_tempo_map_matches_beats():
    plan = plan_timing(17.3, [3.3, 9.1])
    beats = np.arange(plan.n_beats + 1)
    np.testing.assert_allclose(plan.tempo_map.time_of_beat(beats), plan.beats_s, atol=1e-9)


def test_fixed_bpm_is_constant_and_shifted_onto_cuts():
    # Cuts on a 100 BPM grid shifted by 0.5 s: the shift is found, the tempo does not move.
    bar = 2.4
    cuts = 0.5 + bar * np.array([1, 3, 4])
    plan = plan_timing(12.0, cuts, TimingConfig(bpm=100.0))
    np.testing.assert_allclose(plan.bar_bpm, 100.0)
    assert plan.downbeats_s[0] == pytest.approx(0.5)
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-9)
    assert plan.downbeats_s[-1] >= 12.0 and plan.downbeats_s[-1] - 12.0 < bar


def test_too_short_video_raises():
    with pytest.raises(VideoTooShortError, match="shorter than one bar at 70 BPM"):
        plan_timing(3.0, [])
    with pytest.raises(VideoTooShortError):
        plan_timing(2.0, [], TimingConfig(bpm=100.0))


def test_no_cuts_gives_a_single_steady_tempo():
    plan = plan_timing(10.0, [])
    np.testing.assert_allclose(plan.bar_bpm, plan.bar_bpm[0])
    assert 70.0 <= plan.tempo_bpm <= 140.0
    assert plan.aligned_fraction == 1.0


def _stretch_tempi(plan) -> np.ndarray:
    """Tempo of each run of equal beats (the tempo only changes where a run ends)."""
    bpm = 60.0 / np.diff(plan.beats_s)
    keep = np.concatenate([[True], np.abs(np.diff(bpm)) > 1e-6])
    return bpm[keep]


def test_tempo_changes_only_at_cuts():
    rng = np.random.default_rng(7)
    cuts = np.cumsum(rng.uniform(1.5, 6.0, size=12))
    plan = plan_timing(float(cuts[-1] + 3.0), cuts)
    bpm = 60.0 / np.diff(plan.beats_s)
    change_beats = np.flatnonzero(np.abs(np.diff(bpm)) > 1e-6) + 1
    for beat in change_beats:
        assert np.min(np.abs(cuts - plan.beats_s[beat])) < 1e-9


def test_demo_edit_puts_every_cut_on_a_downbeat_with_bounded_changes():
    # Shots of 6, 5, 4, 5 and 4 s: no single tempo in range fits them all, so the tempo changes at
    # cuts (and only there), by no more than a quarter.
    plan = plan_timing(24.0, [6.0, 11.0, 15.0, 20.0])
    tempi = _stretch_tempi(plan)
    assert plan.aligned_fraction == 1.0
    assert np.max(np.abs(np.diff(np.log(tempi))), initial=0.0) <= np.log(1.25) + 1e-9
    assert len(tempi) <= 5


def test_cut_falls_on_a_beat_rather_than_a_big_tempo_swing():
    # One-bar shots at 120 BPM with two 3 s shots: keeping 120 BPM puts two cuts on the third beat.
    plan = plan_timing(16.0, [2.0, 4.0, 7.0, 9.0, 12.0, 14.0])
    np.testing.assert_allclose(plan.bar_bpm, 120.0)
    np.testing.assert_allclose(plan.cut_error_steps, [0, 0, 8, 8, 0, 0], atol=1e-9)


def test_typical_edits_keep_alignment_with_moderate_changes():
    aligned, big_changes, changes = [], 0, 0
    for seed in range(12):
        rng = np.random.default_rng(100 + seed)
        cuts = np.cumsum(rng.uniform(1.5, 6.0, size=20))
        plan = plan_timing(float(cuts[-1] + rng.uniform(1.5, 6.0)), cuts)
        aligned.append(plan.aligned_fraction)
        ratios = np.abs(np.diff(np.log(_stretch_tempi(plan))))
        big_changes += int(np.sum(ratios > np.log(1.15) + 1e-9))
        changes += len(cuts)
    assert np.mean(aligned) >= 0.85
    # Whole bars per shot alone changes tempo by more than 15 % at about half of the cuts.
    assert big_changes / changes < 0.35
