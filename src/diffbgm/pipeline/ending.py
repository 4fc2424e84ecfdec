"""The end of a piece: a fade over the last bars, every note stopped by the video's end, a tonic cadence."""

from __future__ import annotations

import numpy as np

from diffbgm.music.grid import N_PITCHES, STEPS_PER_BAR, STEPS_PER_BEAT
from diffbgm.music.key import Key, estimate_key
from diffbgm.music.notes import DEFAULT_VELOCITY, Note
from diffbgm.music.pianoroll import PianoRoll, beat_notes_from_pianoroll
from diffbgm.music.timing import TimingPlan

# Velocity lost by the last note of the fade.
FADE_DROP = 40.0


def key_of_roll(roll: PianoRoll) -> Key:
    """Krumhansl-Kessler key of ``roll``, as the metrics estimate it."""
    return Key(*estimate_key(beat_notes_from_pianoroll(roll.to_array())))


def heard_steps(plan: TimingPlan) -> int:
    """Steps of the piece that sound before the video's end (the rest of the last bar is cut off)."""
    end_step = int(np.floor(plan.tempo_map.beat_of_time(plan.duration_s) * STEPS_PER_BEAT + 1e-6))
    return min(end_step, plan.n_beats * STEPS_PER_BEAT)


def shape_ending(roll: PianoRoll, plan: TimingPlan, fade_bars: int, cadence: bool,
                 key: Key | None = None) -> tuple[PianoRoll, dict]:
    """Fade the last bars out, stop every note by the video's end and (optionally) end on the tonic.

    Velocities are offsets around ``DEFAULT_VELOCITY`` (``render_midi`` adds the video's level to
    them), falling linearly by up to ``FADE_DROP`` over the last ``fade_bars`` bars. The cadence
    replaces the last bar by a tonic triad of ``key`` (default: the key estimated from the notes),
    voiced around the piece's median pitch over a bass tonic, held to the end.
    """
    end_step = heard_steps(plan)
    notes = [n for n in roll.to_notes() if n.start < end_step]
    if key is None:
        key = key_of_roll(PianoRoll.from_notes(notes, n_steps=end_step)) if notes else Key(0, "major")
    info = {"key_tonic": key.tonic, "key_mode": key.mode, "cadence": False, "end_step": end_step}
    last_bar = int(plan.bar_line_beats[-2]) * STEPS_PER_BEAT
    if cadence and notes and last_bar < end_step:
        centre = int(np.median([n.pitch for n in notes]))
        third = 4 if key.mode == "major" else 3
        root = centre - ((centre - key.tonic) % 12)
        chord = [root - 12, root, root + third, root + 7]
        notes = [Note(n.pitch, n.start, min(n.duration, last_bar - n.start), n.velocity)
                 for n in notes if n.start < last_bar]
        notes += [Note(int(np.clip(p, 0, N_PITCHES - 1)), last_bar, end_step - last_bar, DEFAULT_VELOCITY)
                  for p in chord]
        info["cadence"] = True
    fade_start = max(0, end_step - fade_bars * STEPS_PER_BAR)
    shaped = []
    for note in notes:
        duration = max(1, min(note.duration, end_step - note.start))
        drop = FADE_DROP * max(0.0, (note.start - fade_start) / max(1, end_step - fade_start))
        shaped.append(Note(note.pitch, note.start, duration, int(np.clip(note.velocity - drop, 1, 127))))
    return PianoRoll.from_notes(shaped, n_steps=roll.n_steps), info
