"""Beat <-> seconds mapping for a constant or changing tempo.

A tempo map is a list of beat times; between two listed beats time runs linearly (constant tempo
inside the beat), outside the listed range the nearest beat interval is extended.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


class TempoMap:
    """Times (seconds) of consecutive beats 0, 1, 2, ...

    Parameters
    ----------
    beat_times:
        Strictly increasing times of beats 0..N-1, N >= 2.
    """

    def __init__(self, beat_times: np.ndarray) -> None:
        times = np.asarray(beat_times, dtype=np.float64)
        if times.ndim != 1 or len(times) < 2:
            raise ValueError("a tempo map needs at least two beat times")
        if np.any(np.diff(times) <= 0):
            raise ValueError("beat times must be strictly increasing")
        self.beat_times = times

    @classmethod
    def constant(cls, bpm: float, start_s: float = 0.0) -> "TempoMap":
        """A constant tempo with beat 0 at ``start_s``."""
        if bpm <= 0:
            raise ValueError(f"tempo must be positive, got {bpm}")
        return cls(np.array([start_s, start_s + 60.0 / bpm]))

    @classmethod
    def from_beat_times(cls, times_s: np.ndarray) -> "TempoMap":
        """A tempo map through the given beat times (e.g. POP909 ``beat_midi.txt`` or ``get_beats()``)."""
        return cls(np.asarray(times_s, dtype=np.float64))

    @classmethod
    def from_segments(cls, segments: list[tuple[float, float]], start_s: float = 0.0) -> "TempoMap":
        """A tempo map from ``(n_beats, bpm)`` segments played one after the other."""
        intervals = np.concatenate([np.full(int(n), 60.0 / bpm) for n, bpm in segments])
        return cls(np.concatenate([[start_s], start_s + np.cumsum(intervals)]))

    @property
    def n_beats(self) -> int:
        """Number of listed beats."""
        return len(self.beat_times)

    @property
    def start_s(self) -> float:
        """Time of beat 0."""
        return float(self.beat_times[0])

    def time_of_beat(self, beat: float | np.ndarray) -> float | np.ndarray:
        """Seconds at (fractional) beat position(s)."""
        b = np.asarray(beat, dtype=np.float64)
        t = self.beat_times
        last = len(t) - 1
        inside = np.interp(b, np.arange(len(t)), t)
        before = t[0] + b * (t[1] - t[0])
        after = t[-1] + (b - last) * (t[-1] - t[-2])
        out = np.where(b < 0, before, np.where(b > last, after, inside))
        return float(out) if out.ndim == 0 else out

    def beat_of_time(self, time_s: float | np.ndarray) -> float | np.ndarray:
        """(Fractional) beat position(s) at time(s) in seconds."""
        s = np.asarray(time_s, dtype=np.float64)
        t = self.beat_times
        last = len(t) - 1
        inside = np.interp(s, t, np.arange(len(t)))
        before = (s - t[0]) / (t[1] - t[0])
        after = last + (s - t[-1]) / (t[-1] - t[-2])
        out = np.where(s < t[0], before, np.where(s > t[-1], after, inside))
        return float(out) if out.ndim == 0 else out

    def bpm_at_beat(self, beat: float | np.ndarray) -> float | np.ndarray:
        """Tempo in beats per minute of the beat containing ``beat``."""
        intervals = np.diff(self.beat_times)
        index = np.clip(np.floor(np.asarray(beat, dtype=np.float64)).astype(int), 0, len(intervals) - 1)
        out = 60.0 / intervals[index]
        return float(out) if out.ndim == 0 else out

    def median_bpm(self) -> float:
        """The typical tempo: 60 / median beat interval."""
        return float(60.0 / np.median(np.diff(self.beat_times)))

    def tempo_changes(self, n_beats: int | None = None, tolerance_us: int = 1) -> list[tuple[int, int]]:
        """``(beat, microseconds per beat)`` at beat 0 and wherever the tempo changes.

        Parameters
        ----------
        n_beats:
            Cover beats ``0..n_beats-1`` (beyond the listed beats the last tempo continues).
        tolerance_us:
            Consecutive beats whose tempi differ by at most this many microseconds are merged.
        """
        n = self.n_beats - 1 if n_beats is None else max(int(n_beats), 1)
        times = self.time_of_beat(np.arange(n + 1, dtype=np.float64))
        micros = np.round(np.diff(times) * 1e6).astype(np.int64)
        changes = [(0, int(micros[0]))]
        for beat, value in enumerate(micros[1:], start=1):
            if abs(int(value) - changes[-1][1]) > tolerance_us:
                changes.append((beat, int(value)))
        return changes

    def __repr__(self) -> str:
        return f"TempoMap(n_beats={self.n_beats}, start_s={self.start_s:.3f}, median_bpm={self.median_bpm():.1f})"


# Tempo of a neutral mood: the geometric middle of the 70-140 BPM range POP909 songs mostly use.
NEUTRAL_BPM = 99.0
# Octaves of tempo per unit of arousal and of valence: arousal 1 is about 37 % faster than neutral,
# -1 about 27 % slower (fast tempi read as aroused, Gabrielsson & Lindstroem 2010); valence matters less.
AROUSAL_OCTAVES = 0.45
VALENCE_OCTAVES = 0.05
# Picture motion (frame widths per second) that reads as neutral, and its weight against the mood.
NEUTRAL_MOTION = 0.1
MOTION_SHARE = 0.3
# The allowed range spans one octave around the preferred tempo (so any stretch of at least one bar
# at the fastest tempo holds a whole number of bars), clipped to tempi a 4/4 pop score can use.
RANGE_HALF_OCTAVES = 0.5
ABSOLUTE_BPM_RANGE = (50.0, 200.0)
# The user's own mood words ("sad, slow") are a request, not a guess from the picture: the motion weighs
# less against them and the range narrows around their tempo, so that cuts that suit another tempo
# cannot take the music there (the planner's pull alone loses to the cuts; docs/mood.md). The range
# then spans less than an octave: a stretch may hold no whole number of bars, and the planner puts
# its cut on a beat instead.
WORDED_MOTION_SHARE = 0.1
WORDED_RANGE_HALF_OCTAVES = 0.4


@dataclass(frozen=True)
class TempoPreference:
    """The tempo a scene asks for: the allowed range and the tempo to prefer inside it."""

    bpm_range: tuple[float, float]
    preferred_bpm: float


def motion_arousal(motion: float) -> float:
    """Arousal in [-1, 1] read from the picture's mean motion (frame widths per second).

    Each doubling of motion above ``NEUTRAL_MOTION`` adds 0.5; still pictures read calm.
    """
    if motion < 0:
        raise ValueError(f"motion must be non-negative, got {motion}")
    return float(np.clip(0.5 * math.log2(max(motion, 1e-6) / NEUTRAL_MOTION), -1.0, 1.0))


def tempo_for_mood(arousal: float, valence: float = 0.0, motion: float | None = None,
                   worded: bool = False) -> TempoPreference:
    """Tempo range and preferred tempo for a mood (valence, arousal in [-1, 1]) and optionally the
    video's mean motion in frame widths per second.

    Aroused moods get faster tempi, calm ones slower: with neither word nor motion the result is the
    neutral 70-140 BPM range around 99 BPM. ``worded``: the mood is the user's own words, held more
    firmly (:data:`WORDED_MOTION_SHARE`, :data:`WORDED_RANGE_HALF_OCTAVES`).
    """
    if not (-1.0 <= arousal <= 1.0 and -1.0 <= valence <= 1.0):
        raise ValueError(f"arousal and valence must lie in [-1, 1], got {arousal}, {valence}")
    share = WORDED_MOTION_SHARE if worded else MOTION_SHARE
    half_octaves = WORDED_RANGE_HALF_OCTAVES if worded else RANGE_HALF_OCTAVES
    if motion is not None:
        arousal = (1.0 - share) * arousal + share * motion_arousal(motion)
    octaves = AROUSAL_OCTAVES * arousal + VALENCE_OCTAVES * valence
    low, high = ABSOLUTE_BPM_RANGE
    preferred = float(np.clip(NEUTRAL_BPM * 2.0**octaves, low, high))
    bpm_range = (max(low, preferred * 2.0**-half_octaves), min(high, preferred * 2.0**half_octaves))
    return TempoPreference(bpm_range=bpm_range, preferred_bpm=preferred)
