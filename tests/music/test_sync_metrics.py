"""Tests of the sync metrics, the bar-length solver and the mood -> tempo map on hand-made grids."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.music.mood import mood_from_words
from diffbgm.music.bar_lengths import BarLengthProblem, anchor_rows, solve_bar_lengths
from diffbgm.music.sync_metrics import (
    bar_bpm,
    cut_errors,
    max_tempo_step,
    share_within,
    tempo_changes_per_minute,
    tempo_steps,
)
from diffbgm.music.tempo import tempo_for_mood

# Two bars at 120 BPM (2 s each), then one at 100 BPM (2.4 s).
BEATS = np.concatenate([np.arange(0.0, 4.0, 0.5), 4.0 + 0.6 * np.arange(5)])


def test_cut_errors_in_seconds_and_sixteenths():
    errors = cut_errors([2.0, 2.6, 5.3], BEATS)
    np.testing.assert_allclose(errors.downbeat_s, [0.0, 0.6, 1.1])
    np.testing.assert_allclose(errors.beat_s, [0.0, 0.1, 0.1])
    # A sixteenth is 0.125 s in the 120 BPM bars and 0.15 s in the 100 BPM bar.
    np.testing.assert_allclose(errors.downbeat_steps, [0.0, 4.8, 1.1 / 0.15])
    np.testing.assert_allclose(errors.beat_steps, [0.0, 0.8, 0.1 / 0.15])


def test_share_within_tolerance():
    assert share_within([0.0, 0.03, 0.05, 0.2], 0.04) == 0.5
    assert share_within([], 0.04) == 1.0


def test_tempo_steps_and_changes_per_minute():
    np.testing.assert_allclose(bar_bpm(BEATS), [120.0, 120.0, 100.0])
    np.testing.assert_allclose(tempo_steps([100.0, 110.0, 100.0]), [0.1, 0.1])
    assert max_tempo_step(bar_bpm(BEATS)) == pytest.approx(0.2)
    assert max_tempo_step([90.0]) == 0.0
    # One change above 2 % in 30 s of video.
    assert tempo_changes_per_minute([100.0, 101.0, 110.0, 110.0], 30.0) == pytest.approx(2.0)
    with pytest.raises(ValueError):
        cut_errors([1.0], BEATS[:-1])


def test_anchor_rows_sum_bars_and_fractions():
    rows = anchor_rows(3, np.array([4, 6, 12]))
    np.testing.assert_allclose(rows, [[1, 0, 0], [1, 0.5, 0], [1, 1, 1]])


def test_anchor_rows_count_from_the_beat_at_0_s_of_a_pickup():
    # 0 s is beat 2 of the first bar: beat 4 lies half of bar 0 later, beat 10 the rest of bar 0, all
    # of bar 1 and half of bar 2 later.
    rows = anchor_rows(3, np.array([4, 10]), start_beat=2)
    np.testing.assert_allclose(rows, [[0.5, 0.0, 0.0], [0.5, 1.0, 0.5]])


def test_bar_lengths_ramp_through_anchors_within_the_step_bound():
    # 1 bar of 2 s, then 4 bars in 10 s: the tempo must ramp, not jump by 25 % at the cut.
    problem = BarLengthProblem(5, np.array([4, 20]), np.array([2.0, 12.0]), (1.5, 3.5), 2.4, max_step=0.1)
    bars = solve_bar_lengths(problem).bars_s
    assert bars is not None
    np.testing.assert_allclose(np.cumsum(bars)[[0, 4]], [2.0, 12.0])
    assert np.max(bars[1:] / bars[:-1]) <= 1.1 + 1e-9
    # Without the bound the smoothest grid steps more than 10 % at the cut.
    free = BarLengthProblem(5, np.array([4, 20]), np.array([2.0, 12.0]), (1.5, 3.5), 2.4, max_step=10.0)
    loose = solve_bar_lengths(free).bars_s
    assert loose[1] / loose[0] > 1.1


def test_bar_lengths_report_an_impossible_grid():
    # Two fixed neighbouring bars of 2 s and 3 s cannot be within 10 %.
    problem = BarLengthProblem(2, np.array([4, 8]), np.array([2.0, 5.0]), (1.5, 3.5), 2.4, max_step=0.1)
    assert solve_bar_lengths(problem).bars_s is None


def test_tempo_rises_with_arousal_and_motion():
    preferred = [tempo_for_mood(a).preferred_bpm for a in np.linspace(-1, 1, 9)]
    assert np.all(np.diff(preferred) > 0)
    neutral = tempo_for_mood(0.0)
    assert neutral.bpm_range == pytest.approx((70.0, 140.0), abs=0.1)
    calm, lively = mood_from_words(["calm", "sad", "slow"]), mood_from_words(["energetic", "happy", "fast"])
    slow, fast = tempo_for_mood(calm.arousal, calm.valence), tempo_for_mood(lively.arousal, lively.valence)
    assert 70.0 <= slow.preferred_bpm <= 90.0 and 110.0 <= fast.preferred_bpm <= 135.0
    assert fast.preferred_bpm - slow.preferred_bpm >= 20.0
    assert tempo_for_mood(0.0, motion=0.5).preferred_bpm > tempo_for_mood(0.0, motion=0.02).preferred_bpm
    for preference in (slow, fast):
        low, high = preference.bpm_range
        assert low < preference.preferred_bpm < high and high / low == pytest.approx(2.0)
    with pytest.raises(ValueError):
        tempo_for_mood(1.5)


def test_bar_lengths_warm_start_gives_the_cold_solution():
    problem = BarLengthProblem(5, np.array([4, 20]), np.array([2.0, 12.0]), (1.5, 3.5), 2.4, max_step=0.1)
    cold = solve_bar_lengths(problem)
    assert cold.active
    # One more anchor near where the first solution puts beat 12.
    beat_12 = float(np.sum(cold.bars_s[:3])) - 0.02
    more = BarLengthProblem(5, np.array([4, 12, 20]), np.array([2.0, beat_12, 12.0]), (1.5, 3.5), 2.4, max_step=0.1)
    np.testing.assert_allclose(solve_bar_lengths(more, initial_active=cold.active).bars_s,
                               solve_bar_lengths(more).bars_s, atol=1e-9)
    # A warm start that contradicts the anchors is dropped.
    fixed = BarLengthProblem(5, np.array([4, 20]), np.array([2.4, 12.0]), (1.5, 3.5), 2.4, max_step=0.1)
    np.testing.assert_allclose(solve_bar_lengths(fixed, initial_active=cold.active).bars_s,
                               solve_bar_lengths(fixed).bars_s, atol=1e-9)
