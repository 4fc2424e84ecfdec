import numpy as np
import pytest

from diffbgm.evaluation.adherence import (
    bar_novelty,
    beat_novelty,
    boundary_hit_rate,
    density_correlation,
    mean_sounding_pitch,
    onsets_per_beat,
    register_correlation,
)
from diffbgm.evaluation.retrieval import precision_at_k, symbolic_embedding


def _onsets(counts_per_beat, pitch=60):
    roll = np.zeros((4 * len(counts_per_beat), 128))
    for beat, count in enumerate(counts_per_beat):
        for i in range(count):
            roll[4 * beat + i % 4, pitch + i // 4] = 1
    return roll


def test_onsets_per_beat_counts_each_beat():
    assert onsets_per_beat(_onsets([0, 3, 1, 4])).tolist() == [0, 3, 1, 4]


def test_density_correlation_follows_ranks():
    roll = _onsets([1, 2, 3, 4, 5])
    assert density_correlation(np.array([0.1, 0.2, 0.3, 0.4, 0.5]), roll) == pytest.approx(1.0)
    assert density_correlation(np.array([5.0, 4, 3, 2, 1]), roll) == pytest.approx(-1.0)
    assert np.isnan(density_correlation(np.ones(5), roll))


def test_mean_sounding_pitch_counts_each_note_once_per_beat():
    roll = np.zeros((2, 12, 128))
    roll[0, 0, 60] = roll[0, 0, 72] = 1
    roll[1, 1:6, 72] = 1  # beat 0: C4 and C5; C5 is held into beat 1
    roll[0, 4, 64] = roll[0, 6, 64] = 1  # beat 1: two E4 notes and the held C5; beat 2 silent
    roll[1, 9:11, 50] = 1  # sustain without an onset is no note
    pitch = mean_sounding_pitch(roll)
    assert pitch[:2].tolist() == pytest.approx([66, (72 + 64 + 64) / 3])
    assert np.isnan(pitch[2])
    assert mean_sounding_pitch(roll, unit_steps=12).tolist() == pytest.approx([(60 + 72 + 64 + 64) / 4])


def test_register_correlation_follows_ranks_and_skips_silence():
    roll = np.zeros((2, 4 * 6, 128))
    for beat, pitch in enumerate([48, 55, 0, 60, 67, 72]):
        if pitch:
            roll[0, 4 * beat, pitch] = 1
    requested = np.array([0.1, 0.2, 0.9, 0.3, 0.4, 0.5])  # beat 2 is silent: its request is left out
    assert register_correlation(requested, roll) == pytest.approx(1.0)
    assert register_correlation(requested[::-1].copy(), roll) < 0
    unrequested = requested.copy()
    unrequested[[1, 3]] = 0.0  # 0 = no register asked: left out, three beats remain
    assert register_correlation(unrequested, roll) == pytest.approx(1.0)
    assert np.isnan(register_correlation(np.full(6, 0.5), roll))
    assert np.isnan(register_correlation(requested, np.zeros_like(roll)))


def _bars(pitch_per_bar):
    """One quarter-note onset per beat, on the given pitch in each bar."""
    roll = np.zeros((16 * len(pitch_per_bar), 128))
    for bar, pitch in enumerate(pitch_per_bar):
        roll[16 * bar : 16 * (bar + 1) : 4, pitch] = 1
    return roll


def test_bar_novelty_peaks_where_the_music_changes():
    # Four bars of C4 then four of F#4: the bar line at bar 4 changes pitch class and register.
    novelty = bar_novelty(_bars([60] * 4 + [66] * 4))
    assert novelty[0] == 0.0
    assert int(np.argmax(novelty)) == 4
    # Bar lines 1, 2, 6, 7 compare two bars of one pitch with two of the same: nothing changes.
    assert novelty[[1, 2, 6, 7]].tolist() == [0.0, 0.0, 0.0, 0.0]
    # Bar lines 3 and 5 see half of the change, symmetrically.
    assert novelty[3] == pytest.approx(novelty[5])
    assert 0 < novelty[3] < novelty[4]


def test_boundary_hit_rate_by_hand():
    roll = _bars([60] * 4 + [66] * 4)
    flags = beat_novelty(roll)
    # Bar lines 3, 4, 5 sit within two bars of the change, so their novelty is above the median.
    assert np.flatnonzero(flags).tolist() == [12, 16, 20]
    boundaries = np.zeros(32)
    boundaries[[16, 8]] = 1
    assert boundary_hit_rate(boundaries, roll) == pytest.approx(0.5)
    late = np.zeros(32)
    late[15] = 1
    assert boundary_hit_rate(late, roll, tolerance_beats=1) == 1.0
    assert np.isnan(boundary_hit_rate(np.eye(32)[0], roll))


def test_precision_at_k_perfect_and_chance():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(30, 8))
    perfect = precision_at_k(reference.copy(), reference, ks=(1, 5))
    assert perfect == {1: 1.0, 5: 1.0}
    shuffled = precision_at_k(reference[::-1].copy(), reference, ks=(1,))
    assert shuffled[1] < 0.2


def test_precision_at_k_by_hand():
    # Two queries; each generated item is closer to the other item's reference: rank 1 of 2.
    reference = np.array([[1.0, 0.0], [0.0, 1.0]])
    generated = np.array([[0.0, 1.0], [1.0, 0.0]])
    assert precision_at_k(generated, reference, ks=(1, 2)) == {1: 0.0, 2: 1.0}


def test_symbolic_embedding_is_unit_and_discriminates():
    a = np.zeros((2, 128, 128))
    a[0, ::4, 60] = 1
    b = np.zeros((2, 128, 128))
    b[0, ::2, 72] = 1
    b[0, 1::8, 43] = 1
    ea, eb = symbolic_embedding(a), symbolic_embedding(b)
    assert ea.shape == (2 * 8 + 12,)
    assert np.linalg.norm(ea) == pytest.approx(1.0)
    assert ea @ ea > ea @ eb
