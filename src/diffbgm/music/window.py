"""One training example: an 8-bar window of a song with its per-beat chords and music attributes.

This is the contract between the data builder (``diffbgm data pop909``), which writes windows, and the
training datasets, which read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Per-beat music attributes, each a float32 array of shape (WINDOW_BEATS,). These are what the video
# must be able to supply at inference time (see ``diffbgm.conditions.dynamic``):
#   onset_density   number of note onsets starting in the beat (all tracks)
#   onset_strength  mean onset velocity / 127 times the mean number of simultaneous onsets per onset step
#   pitch_mean      mean MIDI pitch of the notes sounding in the beat (0 when silent)
#   pitch_low       lowest sounding MIDI pitch in the beat (0 when silent)
#   pitch_high      highest sounding MIDI pitch in the beat (0 when silent)
#   phrase_boundary 1.0 on the first beat of a phrase (POP909-structure human_label1), else 0.0
#   phrase_id       index of the phrase the beat belongs to, counted from the song's first phrase
ATTRIBUTE_NAMES: tuple[str, ...] = (
    "onset_density",
    "onset_strength",
    "pitch_mean",
    "pitch_low",
    "pitch_high",
    "phrase_boundary",
    "phrase_id",
)


@dataclass
class MusicWindow:
    """An 8-bar window of a song.

    Attributes
    ----------
    song, bar, split:
        Song id (``"001"``), index of the window's first bar in the song, ``"train"`` or ``"valid"``.
    pianoroll:
        float32 ``(2, WINDOW_STEPS, N_PITCHES)`` in {0, 1}: channel 0 onsets, channel 1 sustain (the
        steps after the onset while the note still sounds, as Polyffusion's ``prmat2c``).
    chords:
        float32 ``(WINDOW_BEATS, 36)``: root one-hot (12), chroma (12), bass one-hot (12); all zero for
        no chord.
    attributes:
        ``ATTRIBUTE_NAMES`` -> float32 ``(WINDOW_BEATS,)``.
    key_tonic, key_mode, tempo_bpm:
        Pitch class of the key (0 = C), ``"major"`` or ``"minor"``, and the song's tempo.
    """

    song: str
    bar: int
    split: str
    pianoroll: np.ndarray
    chords: np.ndarray
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    key_tonic: int = 0
    key_mode: str = "major"
    tempo_bpm: float = 120.0
