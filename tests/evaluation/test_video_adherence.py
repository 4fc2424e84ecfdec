import math

import numpy as np
import pytest

from diffbgm.evaluation.video_adherence import (
    bar_means,
    bars_within,
    cut_bar_lines,
    cut_novelty_rank,
    mean_pitch_per_bar,
    mean_ratio,
    near_events,
    notes_per_bar,
    onset_jaccard,
    rank_correlation,
    time_near_events,
)


def _roll(bars: int) -> np.ndarray:
    return np.zeros((2, 16 * bars, 128), dtype=bool)


def _bars(pitch_per_bar, notes_per_bar_=4) -> np.ndarray:
    """``notes_per_bar_`` evenly spaced onsets per bar, on the given pitch in each bar."""
    roll = _roll(len(pitch_per_bar))
    step = 16 // notes_per_bar_
    for bar, pitch in enumerate(pitch_per_bar):
        roll[0, 16 * bar : 16 * (bar + 1) : step, pitch] = True
    return roll


def test_bar_means_averages_each_bar_and_marks_empty_bars():
    downbeats = np.array([0.0, 2.0, 4.0, 6.0])
    times = np.array([0.0, 1.0, 1.9, 2.0, 3.5, 6.0, 7.0])  # nothing in [4, 6); 6.0 and 7.0 are past the end
    values = np.array([1.0, 2.0, 3.0, 10.0, 20.0, 99.0, 99.0])
    means = bar_means(times, values, downbeats)
    assert means[:2].tolist() == [2.0, 15.0]
    assert math.isnan(means[2])


def test_notes_and_pitch_per_bar():
    roll = _bars([60, 72, 48], notes_per_bar_=4)
    roll[0, 16, 76] = True  # a fifth onset in bar 1
    roll[1, 17:20, 76] = True  # held for three more steps
    assert notes_per_bar(roll).tolist() == [4, 5, 4]
    pitches = mean_pitch_per_bar(roll)
    assert pitches[0] == 60 and pitches[2] == 48
    assert pitches[1] == pytest.approx((4 * 72 + 76) / 5)  # each note once, however long it sounds
    roll[0, 32:] = False
    assert math.isnan(mean_pitch_per_bar(roll)[2])


def test_rank_correlation_skips_undefined_pairs():
    assert rank_correlation(np.array([1.0, 2, 3, 4]), np.array([10.0, 30, 20, 40])) == pytest.approx(0.8)
    assert rank_correlation(np.array([1.0, np.nan, 3, 4, 5]), np.array([5.0, 0, 4, 3, 2])) == pytest.approx(-1.0)
    assert math.isnan(rank_correlation(np.array([1.0, 2, np.nan]), np.array([1.0, 2, 3])))
    assert math.isnan(rank_correlation(np.ones(5), np.arange(5.0)))


def test_bars_within_leaves_out_the_bar_across_the_change():
    downbeats = np.array([0.0, 2.5, 5.0, 7.5, 10.0])
    assert bars_within(downbeats, 0.0, 6.0).tolist() == [True, True, False, False]
    assert bars_within(downbeats, 6.0, 10.0).tolist() == [False, False, False, True]


def test_mean_ratio():
    values = np.array([8.0, 8, 2, 2])
    busy, still = np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool)
    assert mean_ratio(values, busy, still) == 4.0
    assert mean_ratio(np.array([8.0, 8, 0, 0]), busy, still) == math.inf
    assert math.isnan(mean_ratio(np.zeros(4), busy, still))
    assert math.isnan(mean_ratio(values, busy, np.zeros(4, bool)))


def test_onset_jaccard():
    a, b = _bars([60, 62]), _bars([60, 64])
    assert onset_jaccard(a, a) == 1.0
    assert onset_jaccard(a, b) == pytest.approx(4 / 12)  # bar 0 shared, bar 1 differs
    assert onset_jaccard(a, _bars([60])) == 1.0  # over the common length (bar 0) only
    assert math.isnan(onset_jaccard(_roll(2), _roll(2)))


def test_cut_bar_lines_keeps_inner_lines_near_cuts():
    downbeats = np.array([0.0, 2.0, 4.0, 6.0, 8.0])
    assert cut_bar_lines(downbeats, np.array([3.95, 6.3, 0.02, 8.0])).tolist() == [2]
    assert cut_bar_lines(downbeats, np.array([6.3]), tolerance_s=0.5).tolist() == [3]


def test_cut_novelty_rank_is_high_where_the_music_changes_at_the_cuts():
    # Two-bar blocks of one pitch each: the music changes at bar lines 2, 4 and 6 only.
    roll = _bars([60, 60, 66, 66, 61, 61, 67, 67])
    assert cut_novelty_rank(roll, np.array([2, 4, 6])) == 1.0
    assert cut_novelty_rank(roll, np.array([1, 3, 5])) < 0.5
    uniform = _bars([60] * 8)
    assert cut_novelty_rank(uniform, np.array([2, 4])) == 0.5  # all novelty ties: no difference
    assert math.isnan(cut_novelty_rank(roll, np.array([], dtype=int)))


def test_near_events_and_the_time_they_cover():
    times = np.array([0.5, 2.9, 3.2, 5.0, 9.9])
    assert near_events(times, np.array([3.0, 10.0]), 0.25).tolist() == [False, True, True, False, True]
    assert not near_events(times, np.array([]), 1.0).any()
    assert time_near_events(np.array([3.0, 3.2, 9.9]), 0.25, 0.0, 10.0) == pytest.approx(0.7 + 0.35)
    assert time_near_events(np.array([0.1]), 0.5, 0.0, 10.0) == pytest.approx(0.6)
