"""Onset + sustain piano roll, the representation the diffusion model works on.

As Polyffusion's ``prmat2c`` (and so Diff-BGM): channel ``ONSET`` marks the step a note starts, channel
``SUSTAIN`` the following steps while it still sounds. Keeping onsets apart lets repeated notes of the same
pitch stay distinct.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import N_PITCHES, ONSET, STEPS_PER_BEAT, SUSTAIN
from diffbgm.music.notes import DEFAULT_VELOCITY, BeatNotes, Note, sort_notes


@dataclass
class PianoRoll:
    """Boolean onset / sustain grids ``(T, 128)``, with velocities at onsets when known.

    Attributes
    ----------
    onset, sustain:
        bool ``(n_steps, N_PITCHES)``.
    velocity:
        uint8 ``(n_steps, N_PITCHES)`` with the velocity at each onset, or ``None``.
    """

    onset: np.ndarray
    sustain: np.ndarray
    velocity: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.onset.shape != self.sustain.shape or self.onset.ndim != 2 or self.onset.shape[1] != N_PITCHES:
            raise ValueError(f"onset/sustain must both be (T, {N_PITCHES}), got {self.onset.shape}, {self.sustain.shape}")
        if self.velocity is not None and self.velocity.shape != self.onset.shape:
            raise ValueError("velocity must have the shape of onset")

    @property
    def n_steps(self) -> int:
        """Number of sixteenth steps."""
        return int(self.onset.shape[0])

    @classmethod
    def from_notes(cls, notes: list[Note], n_steps: int | None = None, start: int = 0) -> "PianoRoll":
        """Render notes; notes with onsets outside ``[start, start + n_steps)`` are left out, durations are cut at the end.

        Parameters
        ----------
        notes:
            Notes in steps.
        n_steps:
            Length; default: up to the end of the last note.
        start:
            Step of the song that becomes step 0 of the roll.
        """
        if n_steps is None:
            n_steps = max((n.end - start for n in notes), default=0)
        onset = np.zeros((n_steps, N_PITCHES), dtype=bool)
        sustain = np.zeros_like(onset)
        velocity = np.zeros((n_steps, N_PITCHES), dtype=np.uint8)
        for note in notes:
            t = note.start - start
            if not 0 <= t < n_steps:
                continue
            onset[t, note.pitch] = True
            velocity[t, note.pitch] = note.velocity
            sustain[t + 1 : min(t + note.duration, n_steps), note.pitch] = True
        # A later onset of the same pitch ends the earlier note: a step is onset or sustain, never both.
        sustain &= ~onset
        return cls(onset, sustain, velocity)

    @classmethod
    def from_array(cls, array: np.ndarray, threshold: float = 0.5) -> "PianoRoll":
        """A ``(2, T, 128)`` array (model output or ``to_array``) thresholded at ``threshold``."""
        array = np.asarray(array)
        if array.ndim != 3 or array.shape[0] != 2 or array.shape[2] != N_PITCHES:
            raise ValueError(f"expected an array of shape (2, T, {N_PITCHES}), got {array.shape}")
        onset = array[ONSET] > threshold
        sustain = (array[SUSTAIN] > threshold) & ~onset
        return cls(onset, sustain)

    def to_array(self) -> np.ndarray:
        """float32 ``(2, T, 128)`` in {0, 1}."""
        return np.stack([self.onset, self.sustain]).astype(np.float32)

    def to_notes(self) -> list[Note]:
        """Notes: each onset lasts through the sustain steps that follow it; sustain without an onset is dropped."""
        notes = []
        steps, pitches = np.nonzero(self.onset)
        for t, p in zip(steps.tolist(), pitches.tolist()):
            end = t + 1
            while end < self.n_steps and self.sustain[end, p]:
                end += 1
            velocity = int(self.velocity[t, p]) if self.velocity is not None and self.velocity[t, p] > 0 else DEFAULT_VELOCITY
            notes.append(Note(pitch=p, start=t, duration=end - t, velocity=velocity))
        return sort_notes(notes)


def beat_notes_from_pianoroll(array: np.ndarray, threshold: float = 0.5) -> BeatNotes:
    """Notes of a ``(2, steps, 128)`` onset/sustain array (a window or a model output), timed in beats.

    Each onset lasts through the sustain steps that follow it (:meth:`PianoRoll.to_notes`).
    """
    notes = PianoRoll.from_array(array, threshold).to_notes()
    start = np.array([n.start for n in notes], dtype=np.float64) / STEPS_PER_BEAT
    end = np.array([n.start + n.duration for n in notes], dtype=np.float64) / STEPS_PER_BEAT
    return BeatNotes(pitch=np.array([n.pitch for n in notes], dtype=np.int64), start=start, end=end)
