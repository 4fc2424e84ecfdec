"""Training augmentations: pitch shift (as Polyffusion / Diff-BGM training: notes and chords move
together, nothing else) and a bar cut short (a metre change, as a film score makes at a cut)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diffbgm.music.chords import transpose_chords
from diffbgm.music.grid import BEATS_PER_BAR, N_PITCHES, ONSET, STEPS_PER_BEAT, SUSTAIN, WINDOW_BARS, WINDOW_BEATS
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


def shortened_beats(bar: int, dropped_beats: int) -> np.ndarray:
    """The beats of a window and the bar after it (``WINDOW_BEATS + 4``) that :func:`shorten_bar` keeps:
    all but the last ``dropped_beats`` of bar ``bar``, up to ``WINDOW_BEATS`` of them."""
    end_beat = (bar + 1) * BEATS_PER_BAR
    return np.r_[0:end_beat - dropped_beats, end_beat:WINDOW_BEATS + BEATS_PER_BAR][:WINDOW_BEATS]


def shorten_bar(window: MusicWindow, continuation: MusicWindow, bar: int,
                dropped_beats: int) -> tuple[MusicWindow, np.ndarray]:
    """The window with bar ``bar`` ended ``dropped_beats`` beats early (a bar of 3/4 or 2/4), the music
    after it moved up and the window filled from ``continuation`` (the window one bar later in the same
    song); and the beats in each of its bars (the last one cut by the window's end).

    A film score changes the metre at a cut (:mod:`diffbgm.music.planner`); training on real music
    with a bar cut short teaches the model that the bar line after it is a real downbeat.

    Raises
    ------
    ValueError
        A bar outside ``0..WINDOW_BARS - 2``, a drop outside ``1..BEATS_PER_BAR - 2``, or a
        continuation that is not the next window of the same song.
    """
    if not 0 <= bar <= WINDOW_BARS - 2:
        raise ValueError(f"the bar to shorten must lie in 0..{WINDOW_BARS - 2}, got {bar}")
    if not 1 <= dropped_beats <= BEATS_PER_BAR - 2:
        raise ValueError(f"a bar keeps 2..3 of its beats: cannot drop {dropped_beats}")
    if continuation.song != window.song or continuation.bar != window.bar + 1:
        raise ValueError("the continuation must be the window one bar later in the same song")
    kept_beats = shortened_beats(bar, dropped_beats)
    kept_steps = (kept_beats[:, None] * STEPS_PER_BEAT + np.arange(STEPS_PER_BEAT)[None, :]).ravel()

    def extended(mine: np.ndarray, theirs: np.ndarray, per_beat: int) -> np.ndarray:
        # The window, then the last bar of the continuation (the song's next bar), cut to the kept beats.
        tail = theirs[..., -BEATS_PER_BAR * per_beat:, :] if mine.ndim > 1 else theirs[-BEATS_PER_BAR * per_beat:]
        return np.concatenate([mine, tail], axis=-2 if mine.ndim > 1 else 0)

    roll = extended(window.pianoroll, continuation.pianoroll, STEPS_PER_BEAT)[:, kept_steps]
    # A note struck in the dropped beats would go on sounding after the splice without its onset: that
    # sustain goes (a note sounding before the splice may go on through it).
    splice = ((bar + 1) * BEATS_PER_BAR - dropped_beats) * STEPS_PER_BEAT
    onset, sustain = roll[ONSET], roll[SUSTAIN]
    orphans = np.flatnonzero((sustain[splice] > 0) & (onset[splice - 1] == 0) & (sustain[splice - 1] == 0))
    for pitch in orphans:
        step = splice
        while step < len(sustain) and sustain[step, pitch] > 0 and onset[step, pitch] == 0:
            sustain[step, pitch] = 0
            step += 1
    chords = extended(window.chords, continuation.chords, 1)[kept_beats]
    attributes = {name: np.concatenate([values, continuation.attributes[name][-BEATS_PER_BAR:]])[kept_beats]
                  for name, values in window.attributes.items()}
    bar_beats = [BEATS_PER_BAR] * bar + [BEATS_PER_BAR - dropped_beats]
    while sum(bar_beats) < WINDOW_BEATS:
        bar_beats.append(min(BEATS_PER_BAR, WINDOW_BEATS - sum(bar_beats)))
    return replace(window, pianoroll=roll.astype(window.pianoroll.dtype), chords=chords.astype(window.chords.dtype),
                   attributes=attributes), np.asarray(bar_beats)
