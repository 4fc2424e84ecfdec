"""Pitch-shift augmentation (as Polyffusion / Diff-BGM training): notes and chords move together, nothing else."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diffbgm.music.chords import transpose_chords
from diffbgm.music.grid import N_PITCHES
from diffbgm.music.window import MusicWindow

_PITCH_ATTRIBUTES = ("pitch_mean", "pitch_low", "pitch_high")


def can_transpose(window: MusicWindow, semitones: int) -> bool:
    """Whether every note stays inside MIDI 0..127 after the shift."""
    sounding = np.flatnonzero(window.pianoroll.any(axis=(0, 1)))
    return len(sounding) == 0 or (0 <= sounding[0] + semitones and sounding[-1] + semitones < N_PITCHES)


def transpose_window(window: MusicWindow, semitones: int) -> MusicWindow:
    """The window moved by ``semitones``: piano roll, chords, key and pitch attributes; rhythm and phrase untouched.

    Raises
    ------
    ValueError
        If a note would leave the MIDI range (check with :func:`can_transpose`).
    """
    if not can_transpose(window, semitones):
        raise ValueError(f"shifting by {semitones} moves notes out of the MIDI range")
    roll = np.roll(window.pianoroll, semitones, axis=-1)
    attributes = dict(window.attributes)
    # Pitch attributes describe the notes, so they move with them (0 marks a silent beat and stays 0).
    for name in _PITCH_ATTRIBUTES:
        if name in attributes:
            values = attributes[name]
            attributes[name] = np.where(values > 0, values + semitones, 0.0).astype(np.float32)
    return replace(
        window,
        pianoroll=roll,
        chords=transpose_chords(window.chords, semitones).astype(np.float32),
        attributes=attributes,
        key_tonic=(window.key_tonic + semitones) % 12,
    )
