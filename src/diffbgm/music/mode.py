"""The mode a piece is heard in, and moving a piece to its parallel mode (C minor <-> C major).

A key and its relative (C major, A minor) share one scale, so a model told only the scale's pitch
classes cannot tell which one it is asked for; the shipped model's notes lean to the relative minor
whatever the mood. :func:`settle_mode` keeps the piece's own tonic and rhythm and moves its third,
sixth and seventh degrees a semitone where they belong to the other mode, the way a composer rewrites
a theme in the parallel mode.
"""

from __future__ import annotations

import numpy as np

from diffbgm.music.grid import ONSET, SUSTAIN
from diffbgm.music.key import Key, estimate_key
from diffbgm.music.pianoroll import beat_notes_from_pianoroll

# Scale degree (semitones above the tonic) -> the degree it becomes in the other mode (natural scales).
TO_MAJOR: dict[int, int] = {3: 4, 8: 9, 10: 11}
TO_MINOR: dict[int, int] = {4: 3, 9: 8, 11: 10}


def parallel_mode_pitches(tonic: int, mode: str, n_pitches: int) -> np.ndarray:
    """int ``(n_pitches,)``: the pitch each MIDI pitch becomes when a piece on ``tonic`` moves to ``mode``
    (``"major"`` or ``"minor"``); pitches outside the other mode's third, sixth and seventh stay."""
    if mode not in ("major", "minor"):
        raise ValueError(f"mode must be 'major' or 'minor', got {mode!r}")
    moves = TO_MAJOR if mode == "major" else TO_MINOR
    shift = np.array([moves.get(degree, degree) - degree for degree in range(12)])
    pitches = np.arange(n_pitches)
    return np.clip(pitches + shift[(pitches - tonic) % 12], 0, n_pitches - 1)


def to_parallel_mode(roll: np.ndarray, tonic: int, mode: str) -> np.ndarray:
    """A bool ``(2, steps, pitches)`` roll moved to ``mode`` on ``tonic``. Notes that land on a pitch
    already sounding merge with it (an onset wins over a sustain)."""
    target = parallel_mode_pitches(tonic, mode, roll.shape[-1])
    moved = np.flatnonzero(target != np.arange(roll.shape[-1]))
    out = roll.copy()
    out[..., moved] = False
    for pitch in moved:
        out[..., target[pitch]] |= roll[..., pitch]
    out[SUSTAIN] &= ~out[ONSET]
    return out


def settle_mode(roll: np.ndarray, key: Key, heard_steps: int | None = None,
                attempts: int = 3) -> tuple[np.ndarray, Key]:
    """The piece held to ``key.mode`` on its own tonic, and that key.

    The Krumhansl-Kessler key of the notes of ``roll`` (bool ``(2, steps, pitches)``) that are heard
    (its first ``heard_steps`` steps; default all) gives the tonic;
    the notes off that tonic's natural scale in ``key.mode`` are moved onto it (:func:`to_parallel_mode`:
    a piece heard in the other mode moves to the parallel key; one in the asked mode loses only the
    borrowed third, sixth and seventh that could tip it over). An ambiguous piece may then read on
    another tonic: estimated again, up to ``attempts`` times. A silent roll keeps ``key``.
    """
    tonic = key.tonic
    for _ in range(attempts):
        notes = beat_notes_from_pianoroll(roll[:, :heard_steps])
        if len(notes) == 0:
            break
        tonic, mode = estimate_key(notes)
        if mode == key.mode and not (to_parallel_mode(roll, tonic, key.mode) != roll).any():
            break
        roll = to_parallel_mode(roll, tonic, key.mode)
    return roll, Key(tonic, key.mode)
