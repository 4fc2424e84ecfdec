"""Generated piano rolls -> MIDI on the video's tempo map, loud where the picture is intense."""

from __future__ import annotations

import numpy as np
import pretty_midi

from diffbgm.music.timing import TimingPlan
from diffbgm.music.grid import STEPS_PER_BEAT
from diffbgm.music.midi import tracks_to_midi
from diffbgm.music.notes import DEFAULT_VELOCITY, Note
from diffbgm.music.pianoroll import PianoRoll

DEFAULT_VELOCITY_RANGE = (50, 100)


def velocity_curve(intensity: np.ndarray, velocity_range: tuple[int, int] = DEFAULT_VELOCITY_RANGE) -> np.ndarray:
    """Per-beat intensity in [0, 1] -> int ``(beats,)`` MIDI velocities in ``velocity_range``."""
    low, high = velocity_range
    if not 1 <= low <= high <= 127:
        raise ValueError(f"velocity range must satisfy 1 <= low <= high <= 127, got {velocity_range}")
    unit = np.clip(np.asarray(intensity, dtype=np.float64), 0.0, 1.0)
    return np.rint(low + unit * (high - low)).astype(np.int64)


def _shaped_notes(roll: PianoRoll, n_steps: int, velocities: np.ndarray | None) -> list[Note]:
    notes = []
    for note in roll.to_notes():
        if note.start >= n_steps:
            continue
        duration = min(note.duration, n_steps - note.start)
        velocity = note.velocity
        if velocities is not None:
            # Keep the roll's own accents (if any) around the video's level.
            beat = min(note.start // STEPS_PER_BEAT, len(velocities) - 1)
            velocity = int(np.clip(velocities[beat] + note.velocity - DEFAULT_VELOCITY, 1, 127))
        notes.append(Note(note.pitch, note.start, duration, velocity))
    return notes


def render_midi(
    rolls: PianoRoll | np.ndarray | list[tuple[str, PianoRoll | np.ndarray]],
    plan: TimingPlan,
    intensity: np.ndarray | None = None,
    velocity_range: tuple[int, int] = DEFAULT_VELOCITY_RANGE,
    program: int = 0,
) -> pretty_midi.PrettyMIDI:
    """Piano roll(s) of the whole piece -> PrettyMIDI on the plan's tempo map.

    Parameters
    ----------
    rolls:
        One roll (``PianoRoll`` or ``(2, T, 128)`` array), or named rolls ``[(track_name, roll), ...]``.
        Step 0 is the plan's beat 0; notes past the plan's last bar are cut off.
    plan:
        The music's grid (its tempo map becomes the MIDI tempo events).
    intensity:
        Per-beat picture intensity in [0, 1] (``VideoConditions.intensity``); ``None`` keeps the roll's
        velocities.
    velocity_range:
        Velocities that intensity 0 and 1 map to.
    program:
        General MIDI program of every track (0 = acoustic grand piano).
    """
    named = rolls if isinstance(rolls, list) else [("PIANO", rolls)]
    velocities = None if intensity is None else velocity_curve(intensity, velocity_range)
    n_steps = plan.n_beats * STEPS_PER_BEAT
    tracks = []
    for name, roll in named:
        if not isinstance(roll, PianoRoll):
            roll = PianoRoll.from_array(np.asarray(roll))
        tracks.append((name, program, _shaped_notes(roll, n_steps, velocities)))
    return tracks_to_midi(tracks, plan.tempo_map, plan.meter_changes)
