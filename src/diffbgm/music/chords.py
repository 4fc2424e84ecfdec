"""Chord symbols (Harte-style ``root:quality/bass`` as in POP909) -> 36-d vectors: root, chroma, bass."""

from __future__ import annotations

import re

import numpy as np

CHORD_DIM = 36
NO_CHORD = "N"

PITCH_CLASSES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}

# Intervals above the root of every quality that occurs in POP909's chord_midi.txt (grep of all 909 songs).
QUALITY_INTERVALS: dict[str, tuple[int, ...]] = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "aug": (0, 4, 8),
    "dim": (0, 3, 6),
    "sus2": (0, 2, 7),
    "sus4": (0, 5, 7),
    "sus4(b7)": (0, 5, 7, 10),
    "7": (0, 4, 7, 10),
    "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10),
    "minmaj7": (0, 3, 7, 11),
    "maj6": (0, 4, 7, 9),
    "min6": (0, 3, 7, 9),
    "dim7": (0, 3, 6, 9),
    "hdim7": (0, 3, 6, 10),
}

# Scale degrees used after "/" for the bass note, in semitones above the root.
DEGREE_SEMITONES = {"1": 0, "b2": 1, "2": 2, "b3": 3, "3": 4, "4": 5, "#4": 6, "b5": 6, "5": 7,
                    "#5": 8, "b6": 8, "6": 9, "bb7": 9, "b7": 10, "7": 11}

_CHORD_RE = re.compile(r"^([A-G])([#b]*):([^/]+)(?:/(.+))?$")


class ChordParseError(ValueError):
    """A chord symbol outside :data:`QUALITY_INTERVALS`."""


def pitch_class(name: str) -> int:
    """``"C#"`` / ``"Db"`` -> 1."""
    base = PITCH_CLASSES[name[0].upper()]
    return (base + name.count("#") - name.count("b", 1)) % 12


def parse_chord(symbol: str) -> tuple[int, tuple[int, ...], int] | None:
    """``"D:maj/5"`` -> ``(root, sorted chroma pitch classes, bass)``; ``"N"`` -> ``None``."""
    symbol = symbol.strip()
    if symbol in (NO_CHORD, "X", ""):
        return None
    match = _CHORD_RE.match(symbol)
    if match is None:
        raise ChordParseError(f"cannot parse chord symbol {symbol!r}")
    letter, accidentals, quality, bass_degree = match.groups()
    if quality not in QUALITY_INTERVALS:
        raise ChordParseError(f"unknown chord quality {quality!r} in {symbol!r}")
    root = pitch_class(letter + accidentals)
    chroma = tuple(sorted((root + i) % 12 for i in QUALITY_INTERVALS[quality]))
    if bass_degree is None:
        bass = root
    elif bass_degree in DEGREE_SEMITONES:
        bass = (root + DEGREE_SEMITONES[bass_degree]) % 12
    else:
        raise ChordParseError(f"unknown bass degree {bass_degree!r} in {symbol!r}")
    return root, chroma, bass


def chord_vector(symbol: str) -> np.ndarray:
    """float32 ``(36,)``: root one-hot, chroma, bass one-hot (all zero for no chord)."""
    vector = np.zeros(CHORD_DIM, dtype=np.float32)
    parsed = parse_chord(symbol)
    if parsed is None:
        return vector
    root, chroma, bass = parsed
    vector[root] = 1.0
    vector[12 + np.array(chroma)] = 1.0
    vector[24 + bass] = 1.0
    return vector


def transpose_chords(chords: np.ndarray, semitones: int) -> np.ndarray:
    """Roll each 12-d block of ``(..., 36)`` chord vectors by ``semitones``."""
    blocks = [np.roll(chords[..., i : i + 12], semitones, axis=-1) for i in (0, 12, 24)]
    return np.concatenate(blocks, axis=-1)
