"""Notes: on the sixteenth-step grid (``diffbgm.music.grid``), the unit every representation converts
through, and as parallel arrays timed in beats, what the metrics and the key estimate read."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR

DEFAULT_VELOCITY = 80  # used when a representation carries no velocity (a binary piano roll)


@dataclass(frozen=True, order=True)
class Note:
    """A note; times are in sixteenth steps (``STEPS_PER_BEAT`` per beat) from the song's first beat.

    Attributes
    ----------
    pitch:
        MIDI pitch 0-127.
    start:
        Onset step.
    duration:
        Length in steps, at least 1.
    velocity:
        MIDI velocity 1-127.
    """

    pitch: int
    start: int
    duration: int
    velocity: int = DEFAULT_VELOCITY

    @property
    def end(self) -> int:
        """First step after the note."""
        return self.start + self.duration


def sort_notes(notes: list[Note]) -> list[Note]:
    """Notes ordered by onset, then pitch (the order every ``to_notes`` returns)."""
    return sorted(notes, key=lambda n: (n.start, n.pitch, n.duration, n.velocity))


@dataclass
class BeatNotes:
    """Notes of a piece as parallel arrays: MIDI pitch, onset and offset in beats."""

    pitch: np.ndarray
    start: np.ndarray
    end: np.ndarray

    def __post_init__(self) -> None:
        self.pitch = np.asarray(self.pitch, dtype=np.int64)
        self.start = np.asarray(self.start, dtype=np.float64)
        self.end = np.maximum(np.asarray(self.end, dtype=np.float64), self.start)

    def __len__(self) -> int:
        return len(self.pitch)

    def n_bars(self) -> int:
        """Bars up to the last onset."""
        return int(np.floor(self.start.max() / BEATS_PER_BAR)) + 1 if len(self) else 0
