"""A note on the sixteenth-step grid (``diffbgm.music.grid``), the unit every representation converts through."""

from __future__ import annotations

from dataclasses import dataclass

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
