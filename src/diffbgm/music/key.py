"""Musical keys: a tonic pitch class and a mode, their scales, and names as users write them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pretty_midi

from diffbgm.music.grid import N_PITCHES
from diffbgm.music.notes import BeatNotes

MAJOR_SCALE: tuple[int, ...] = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE: tuple[int, ...] = (0, 2, 3, 5, 7, 8, 10)  # natural minor
MODES: tuple[str, ...] = ("major", "minor")
# Krumhansl & Kessler (1982) key profiles, tonic first.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


@dataclass(frozen=True)
class Key:
    """``tonic`` is a pitch class (0 = C); ``mode`` is ``"major"`` or ``"minor"``."""

    tonic: int
    mode: str = "major"

    def __post_init__(self) -> None:
        if not 0 <= self.tonic < 12 or self.mode not in MODES:
            raise ValueError(f"a key needs a tonic in 0..11 and a mode in {MODES}, got {self.tonic}, {self.mode!r}")

    @classmethod
    def parse(cls, name: str) -> Key:
        """``"A minor"``, ``"F# major"``, ``"Bb min"``, ``"D"`` (major); pretty_midi reads the name."""
        try:
            number = pretty_midi.key_name_to_key_number(name.strip())
        except (ValueError, AttributeError):
            raise ValueError(f"unknown key {name!r}; write e.g. 'C major', 'F# minor' or 'Bb major'") from None
        return cls(number % 12, MODES[number // 12])

    def __str__(self) -> str:
        return pretty_midi.key_number_to_key_name(self.tonic + 12 * MODES.index(self.mode)).replace("Major", "major")

    @property
    def scale(self) -> frozenset[int]:
        """The pitch classes of the key's (natural) scale."""
        steps = MAJOR_SCALE if self.mode == "major" else MINOR_SCALE
        return frozenset((self.tonic + step) % 12 for step in steps)

    def pitch_mask(self, n_pitches: int = N_PITCHES) -> np.ndarray:
        """bool ``(n_pitches,)``: which MIDI pitches lie in the scale."""
        return np.isin(np.arange(n_pitches) % 12, sorted(self.scale))


def estimate_key(notes: BeatNotes) -> tuple[int, str]:
    """Krumhansl-Kessler key: the profile rotation best correlated with the duration-weighted pitch classes."""
    histogram = np.bincount(notes.pitch % 12, weights=notes.end - notes.start, minlength=12)
    best = (-np.inf, 0, "major")
    for tonic in range(12):
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            r = np.corrcoef(histogram, np.roll(profile, tonic))[0, 1] if histogram.std() > 0 else 0.0
            if r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]
