"""Moving a piece to its parallel mode, and holding a piece to the mode a mood asks for."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.music.grid import N_PITCHES, ONSET, STEPS_PER_BEAT, SUSTAIN
from diffbgm.music.key import Key, estimate_key
from diffbgm.music.mode import parallel_mode_pitches, settle_mode, to_parallel_mode
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll, beat_notes_from_pianoroll


def _roll(pitches: list[int], beats_each: int = 2) -> np.ndarray:
    """One note after another, ``beats_each`` beats long."""
    step = beats_each * STEPS_PER_BEAT
    notes = [Note(p, i * step, step) for i, p in enumerate(pitches)]
    return PianoRoll.from_notes(notes, n_steps=len(pitches) * step).to_array() > 0.5


def _key_of(roll: np.ndarray) -> Key:
    return Key(*estimate_key(beat_notes_from_pianoroll(roll)))


def test_parallel_mode_moves_the_third_sixth_and_seventh_only():
    to_minor = parallel_mode_pitches(0, "minor", N_PITCHES)
    moved = {p: int(to_minor[p]) for p in range(60, 72) if to_minor[p] != p}
    assert moved == {64: 63, 69: 68, 71: 70}
    to_major_on_a = parallel_mode_pitches(9, "major", N_PITCHES)
    assert {p: int(to_major_on_a[p]) for p in range(57, 69) if to_major_on_a[p] != p} == {60: 61, 65: 66, 67: 68}
    with pytest.raises(ValueError, match="mode"):
        parallel_mode_pitches(0, "dorian", N_PITCHES)


def test_a_diatonic_piece_goes_to_minor_and_back_unchanged():
    c_major = _roll([60, 64, 67, 72, 69, 65, 62, 71, 60, 67])
    minor = to_parallel_mode(c_major, 0, "minor")
    assert _key_of(c_major) == Key(0, "major") and _key_of(minor) == Key(0, "minor")
    np.testing.assert_array_equal(to_parallel_mode(minor, 0, "major"), c_major)


def test_notes_that_land_on_one_pitch_merge_with_the_onset_kept():
    roll = np.zeros((2, 8, N_PITCHES), dtype=bool)
    roll[ONSET, 0, 70] = True  # Bb, held: becomes B in C major
    roll[SUSTAIN, 1:4, 70] = True
    roll[ONSET, 2, 71] = True  # a B starting while it sounds
    moved = to_parallel_mode(roll, 0, "major")
    assert not moved[..., 70].any()
    assert moved[ONSET, :, 71].nonzero()[0].tolist() == [0, 2]
    assert moved[SUSTAIN, :, 71].nonzero()[0].tolist() == [1, 3]


def test_settle_mode_holds_a_piece_to_the_asked_mode_on_its_own_tonic():
    # A-minor arpeggios on the C-major scale: what a model told only the scale may write for a happy mood.
    a_minor = _roll([57, 60, 64, 69, 72, 64, 60, 57, 62, 65, 69, 64, 57])
    assert _key_of(a_minor) == Key(9, "minor")
    settled, key = settle_mode(a_minor, Key(0, "major"))
    assert key == Key(9, "major") and _key_of(settled) == key
    kept, same = settle_mode(a_minor, Key(4, "minor"))  # asked minor, heard minor: notes kept, its own tonic
    np.testing.assert_array_equal(kept, a_minor)
    assert same == Key(9, "minor")
    silent = np.zeros((2, 16, N_PITCHES), dtype=bool)
    assert settle_mode(silent, Key(2, "minor"))[1] == Key(2, "minor")


def test_settle_mode_reads_only_the_steps_that_are_heard():
    # The piece past the video's end (cut off by the ending) must not decide its mode.
    heard = _roll([57, 60, 64, 69, 72, 64, 60, 57, 62, 65, 69, 64, 57])
    tail = _roll([60, 64, 67, 72, 67, 64, 60, 67, 72, 76, 79, 72, 60, 64, 67, 60] * 2)
    roll = np.concatenate([heard, tail], axis=1)
    assert _key_of(roll).mode == "major"
    kept, key = settle_mode(roll, Key(9, "minor"), heard_steps=heard.shape[1])
    assert key == Key(9, "minor")
    np.testing.assert_array_equal(kept, roll)
