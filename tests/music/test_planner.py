"""Tests of the video -> music bar-grid planner on hand-made cut lists."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.music.mood import mood_from_words
from diffbgm.music.sync_metrics import cut_errors
from diffbgm.music.tempo import tempo_for_mood
from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig, VideoTooShortError, plan_from_beats, timing_config

FRAME_S = 1.0 / 24.0
MAX_STEP = 0.1 + 1e-9


def _assert_well_formed(plan, duration_s: float, bpm_range=(70.0, 140.0)) -> None:
    """0 s on a beat of the first bar (beat 0, or a later one for a pickup), tempo constant inside each
    bar and in range, the music covering the video with no bar line after its end but the final one."""
    assert 0 <= plan.start_beat < plan.bar_beats[0]
    assert plan.beats_s[plan.start_beat] == pytest.approx(0.0, abs=1e-9)
    assert set(plan.bar_beats.tolist()) <= {2, 3, 4}
    assert len(plan.beats_s) == plan.bar_beats.sum() + 1 and plan.n_beats == plan.bar_beats.sum()
    np.testing.assert_allclose(plan.beats_s[plan.bar_line_beats], plan.downbeats_s)
    beat_lengths = np.diff(plan.beats_s)
    for bar, first in enumerate(plan.bar_line_beats[:-1]):
        inside = beat_lengths[first:first + plan.bar_beats[bar]]
        np.testing.assert_allclose(inside, inside[0], rtol=1e-9)
    assert plan.bar_bpm.min() >= bpm_range[0] - 1e-6 and plan.bar_bpm.max() <= bpm_range[1] + 1e-6
    assert plan.music_end_s >= duration_s - 1e-9
    assert np.all(plan.downbeats_s[:-1] < duration_s)
    assert plan.duration_s == duration_s


def test_regular_cuts_at_120_bpm_are_exact():
    plan = plan_timing(20.0, np.arange(2.0, 20.0, 2.0))
    assert plan.n_bars == 10
    assert plan.tempo_bpm == pytest.approx(120.0)
    np.testing.assert_allclose(plan.bar_bpm, 120.0)
    assert plan.cut_kept.all()
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-9)


def test_two_cuts_five_seconds_apart_both_land_on_downbeats():
    # The case: the old planner put only the first of these on a downbeat.
    plan = plan_timing(10.0, [2.5, 7.5])
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-9)
    assert plan.cut_kept.all()
    _assert_well_formed(plan, 10.0)


def _random_edit(seed: int, fps: float) -> tuple[float, np.ndarray]:
    """25 shots of 1.5-8 s, cut at whole frames."""
    rng = np.random.default_rng(seed)
    frames = np.round(np.cumsum(rng.uniform(1.5, 8.0, size=25)) * fps)
    return float(frames[-1] / fps), frames[:-1] / fps


@pytest.mark.parametrize("fps", [24.0, 30000.0 / 1001.0])
def test_random_edits_are_steady_and_put_cuts_on_the_grid(fps):
    on_downbeat, on_beat = [], []
    for seed in range(4):
        duration, cuts = _random_edit(seed, fps)
        plan = plan_timing(duration, cuts)
        _assert_well_formed(plan, duration)
        assert plan.max_tempo_step <= MAX_STEP
        errors = cut_errors(cuts, plan.beats_s, plan.bar_beats)
        on_downbeat.append(errors.downbeat_s <= 0.04)
        on_beat.append(errors.beat_s <= 0.04)
    # With at most 10 % between neighbouring bars, some neighbouring shots (3 s then 2 s: one bar of
    # 80 BPM then one of 120) cannot both be whole bars: those cuts go on another beat.
    assert np.concatenate(on_downbeat).mean() >= 0.55
    assert np.concatenate(on_beat).mean() >= 0.95


def test_tempo_never_jumps_between_bars():
    # Shots of 6, 5, 4, 5 and 4 s: whole bars per shot would jump 80 -> 96 -> 120 -> 96 -> 120 BPM.
    plan = plan_timing(24.0, [6.0, 11.0, 15.0, 20.0])
    assert plan.max_tempo_step <= MAX_STEP
    assert plan.aligned_fraction >= 0.75
    assert np.all(plan.cut_beat_error_steps <= 1e-6)
    _assert_well_formed(plan, 24.0)


def test_short_shot_is_merged_not_forced():
    # A 0.8 s shot cannot be a bar (of 2 beats or more) at <= 140 BPM: one of its two cuts is not a bar
    # line, the others are.
    cuts = [4.0, 4.8, 8.0, 12.0]
    plan = plan_timing(16.0, cuts)
    assert plan.cut_kept[2:].all() and plan.cut_kept[:2].sum() == 1
    assert plan.bar_bpm.max() <= 140.0 + 1e-6


def test_narrow_tempo_range_is_respected():
    config = TimingConfig(bpm_range=(90.0, 100.0))
    plan = plan_timing(30.0, [5.0, 11.0, 19.5], config)
    _assert_well_formed(plan, 30.0, (90.0, 100.0))
    assert plan.max_tempo_step <= MAX_STEP


def test_tempo_map_matches_beats_and_plan_round_trips():
    plan = plan_timing(17.3, [3.3, 9.1], accents_s=[6.0])
    beats = np.arange(plan.n_beats + 1)
    np.testing.assert_allclose(plan.tempo_map.time_of_beat(beats), plan.beats_s, atol=1e-9)
    rebuilt = plan_from_beats(plan.beats_s, plan.duration_s, plan.cuts_s, plan.aligned_tolerance_steps,
                              plan.accents_s, plan.bar_beats)
    np.testing.assert_array_equal(rebuilt.bar_beats, plan.bar_beats)
    np.testing.assert_array_equal(rebuilt.cut_error_steps, plan.cut_error_steps)
    np.testing.assert_array_equal(rebuilt.accent_beat_error_steps, plan.accent_beat_error_steps)
    assert rebuilt.tempo_bpm == plan.tempo_bpm and rebuilt.music_end_s == plan.music_end_s


def test_fixed_bpm_is_constant_from_time_zero():
    # The old planner shifted the grid to catch cuts, starting the music late; a fixed tempo now starts
    # at 0 s and lists no bar line after the video's end but the final one.
    plan = plan_timing(10.0, [3.3, 7.1], TimingConfig(bpm=90.0))
    np.testing.assert_allclose(np.diff(plan.beats_s), 60.0 / 90.0)
    _assert_well_formed(plan, 10.0, (90.0, 90.0))
    assert plan.n_bars == 4 and plan.partial_last_bar
    assert plan.music_end_s == pytest.approx(4 * 60.0 * 4 / 90.0)


@pytest.mark.parametrize("duration", [1.0, 2.5])
def test_short_clips_are_scored(duration):
    plan = plan_timing(duration, [])
    _assert_well_formed(plan, duration)
    assert plan.n_bars == 1
    # The video ends on a beat: a whole bar, or a partial one whose bar line lies after the end.
    assert np.min(np.abs(plan.beats_s - duration)) < 1e-9


def test_clip_below_one_second_is_refused_with_advice():
    with pytest.raises(VideoTooShortError, match=r"0\.80 s.*at least 1 s: use a longer clip"):
        plan_timing(0.8, [])
    with pytest.raises(VideoTooShortError):
        plan_timing(0.5, [], TimingConfig(bpm=100.0))


def test_no_cuts_gives_a_single_steady_tempo():
    plan = plan_timing(10.0, [])
    np.testing.assert_allclose(plan.bar_bpm, plan.bar_bpm[0])
    assert 70.0 <= plan.tempo_bpm <= 140.0
    assert plan.aligned_fraction == 1.0


def test_cut_falls_on_a_beat_rather_than_a_big_tempo_swing():
    # One-bar shots at 120 BPM with two 3 s shots: in 4/4 throughout, keeping 120 BPM puts two cuts on
    # the third beat.
    plan = plan_timing(16.0, [2.0, 4.0, 7.0, 9.0, 12.0, 14.0], TimingConfig(meter_change_cost=float("inf")))
    np.testing.assert_allclose(plan.bar_bpm, 120.0)
    np.testing.assert_allclose(plan.cut_error_steps, [0, 0, 8, 8, 0, 0], atol=1e-9)
    assert (plan.bar_beats == 4).all()


def test_a_short_bar_puts_a_cut_on_a_bar_line_at_a_steady_tempo():
    # The same edit with metre changes: each 3 s shot is a bar of 4/4 and one of 2/4 at 120 BPM, so
    # every cut is a bar line and the tempo never moves.
    plan = plan_timing(16.0, [2.0, 4.0, 7.0, 9.0, 12.0, 14.0])
    _assert_well_formed(plan, 16.0)
    np.testing.assert_allclose(plan.beats_s, np.arange(0.0, 16.01, 0.5), atol=1e-4)
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-3)
    assert plan.bar_beats.tolist() == [4, 4, 4, 2, 4, 4, 2, 4, 4]
    assert plan.meter_changes == [(0, 4), (12, 2), (14, 4), (22, 2), (24, 4)]
    assert plan.metric_steps[12 * 4:14 * 4 + 2].tolist() == list(range(8)) + [0, 1]


def test_cut_near_the_end_is_kept_with_a_partial_last_bar():
    # 3 bars at 90 BPM, then 1.3 s: the end falls on a beat of a fourth bar instead of giving up the cut.
    plan = plan_timing(9.3, [8.0])
    assert plan.cut_kept.all()
    assert plan.partial_last_bar and plan.music_end_s > 9.3
    _assert_well_formed(plan, 9.3)


def test_the_video_may_end_between_two_beats_to_keep_a_late_cut():
    # One beat of 0.6 s, then 0.4 s: shorter than a beat at 140 BPM, so a grid with a beat at the
    # video's end cannot hold the cut; one that goes on past the end can, at a steady tempo.
    plan = plan_timing(1.0, [0.6])
    _assert_well_formed(plan, 1.0)
    assert plan.cut_kept.all() and plan.max_tempo_step <= MAX_STEP
    assert np.abs(plan.beats_s - 1.0).min() > 0.05
    assert not plan_timing(1.0, [0.6], TimingConfig(end_slack_beats=())).cut_kept.any()


def test_accents_land_on_beats():
    accents = [10.1, 19.0]  # 0.1 s after a beat of the even 90 BPM grid, and between two beats
    steady = plan_timing(24.0, [8.0, 16.0])
    assert np.all(cut_errors(accents, steady.beats_s, steady.bar_beats).beat_s > 0.05)
    plan = plan_timing(24.0, [8.0, 16.0], accents_s=accents)
    np.testing.assert_allclose(plan.accent_beat_error_steps, 0.0, atol=1e-9)
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-9)
    assert plan.max_tempo_step <= MAX_STEP


def test_mood_moves_the_tempo_and_cuts_still_land():
    calm, lively = mood_from_words(["calm", "sad", "slow"]), mood_from_words(["energetic", "happy", "fast"])
    duration, cuts = _random_edit(3, 24.0)
    tempi = []
    for mood in (calm, lively):
        preference = tempo_for_mood(mood.arousal, mood.valence)
        config = TimingConfig(bpm_range=preference.bpm_range, preferred_bpm=preference.preferred_bpm)
        plan = plan_timing(duration, cuts, config)
        _assert_well_formed(plan, duration, preference.bpm_range)
        assert np.mean(plan.cut_beat_error_steps <= 1e-6) >= 0.8
        tempi.append(plan.tempo_bpm)
    assert tempi[1] - tempi[0] >= 20.0


def test_timing_config_prefers_the_users_tempo_then_range_then_mood():
    assert timing_config(bpm=90.0, tempo_range=(60.0, 80.0), arousal=1.0) == TimingConfig(bpm=90.0)
    assert timing_config(tempo_range=(60, 80), arousal=1.0) == TimingConfig(bpm_range=(60.0, 80.0))
    assert timing_config() == TimingConfig()
    lively, still = timing_config(arousal=0.7, valence=0.6), timing_config(motion=0.01)
    assert lively.preferred_bpm == tempo_for_mood(0.7, 0.6).preferred_bpm
    assert lively.bpm_range == tempo_for_mood(0.7, 0.6).bpm_range
    assert still.preferred_bpm < tempo_for_mood(0.0).preferred_bpm < lively.preferred_bpm


def test_an_early_first_cut_gets_a_pickup_bar():
    # 3.75 s then 5.0 s: no steady grid of whole bars from 0 s puts both cuts on downbeats; a pickup of
    # two beats before the first bar line does, as a composer would write it.
    plan = plan_timing(24.02, [3.754, 8.759], TimingConfig(meter_change_cost=float("inf")))
    _assert_well_formed(plan, 24.02)
    assert plan.start_beat > 0 and plan.heard_downbeats_s[0] == pytest.approx(plan.downbeats_s[1])
    assert plan.cut_kept.all() and plan.max_tempo_step <= MAX_STEP
    without = plan_timing(24.02, [3.754, 8.759], TimingConfig(pickup_cost=float("inf"), meter_change_cost=float("inf")))
    assert without.start_beat == 0 and without.aligned_fraction < 1.0


def test_no_pickup_without_an_early_cut():
    for duration, cuts in [(20.0, np.arange(2.0, 20.0, 2.0)), (10.0, [5.0]), (30.0, [])]:
        assert plan_timing(duration, cuts).start_beat == 0


def test_a_cut_one_beat_past_a_bar_line_turns_two_bars_into_3_4_and_2_4():
    # 120 BPM: the cut at 4.5 s lies five beats after the one at 2.0 s. Rather than bend the tempo the
    # bars between become 3 + 2 beats, and every cut is a bar line at a steady 120 BPM.
    plan = plan_timing(10.0, [2.0, 4.5, 6.5, 8.5])
    _assert_well_formed(plan, 10.0)
    assert plan.bar_beats.tolist()[:3] == [4, 3, 2]
    np.testing.assert_allclose(plan.bar_bpm, 120.0, rtol=1e-3)
    np.testing.assert_allclose(plan.cut_error_steps, 0.0, atol=1e-3)
    four_four = plan_timing(10.0, [2.0, 4.5, 6.5, 8.5], TimingConfig(meter_change_cost=float("inf")))
    assert four_four.aligned_fraction < 1.0


def _longest_run_of_short_bars(plan) -> int:
    longest = run = 0
    for beats in plan.bar_beats[plan.downbeats_s[:-1] < plan.duration_s]:
        run = run + 1 if beats != 4 else 0
        longest = max(longest, run)
    return longest


def test_a_fast_montage_gets_no_long_run_of_short_bars():
    # Shots of 1-2 s: with every short bar priced alike, eight bars of 2/4 and 3/4 follow each other
    # (the pulse is lost, and the model learnt at most one short bar per window); the price of a short
    # bar right after short bars breaks the run at the cost of one cut off its downbeat.
    rng = np.random.default_rng(3)
    shots = []
    while sum(shots) < 16:
        shots.append(rng.uniform(1.0, 2.0))
    ends = np.round(np.cumsum(shots) / FRAME_S) * FRAME_S
    duration, cuts = float(ends[-1]), ends[:-1]
    alike = plan_timing(duration, cuts, TimingConfig(consecutive_meter_cost=0.0))
    plan = plan_timing(duration, cuts)
    _assert_well_formed(plan, duration)
    assert _longest_run_of_short_bars(alike) >= 6 and _longest_run_of_short_bars(plan) <= 3
    on_downbeat = [np.sum(cut_errors(cuts, p.beats_s, p.bar_beats).downbeat_s <= 0.04) for p in (alike, plan)]
    assert on_downbeat[1] >= on_downbeat[0] - 1
