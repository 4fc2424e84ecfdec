"""How well a beat grid fits a video's cuts, and how steady its tempo is (pure functions for benchmarks).

A grid is given as its beat times ``beats_s`` (the first one the first downbeat, the last one the final
bar line) and the number of beats in each bar, ``bar_beats``: ``None`` for 4/4 throughout, where every
fourth time is a bar line (the layout of ``TimingPlan.beats_s`` and ``TimingPlan.bar_beats``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT

SECONDS_PER_MINUTE = 60.0


@dataclass(frozen=True)
class CutErrors:
    """Distance of each event (a cut) to the grid; ``(n_events,)`` arrays.

    Attributes
    ----------
    downbeat_s, beat_s:
        Seconds to the nearest bar line and to the nearest beat.
    downbeat_steps, beat_steps:
        The same in sixteenths of the bar the event lies in.
    """

    downbeat_s: np.ndarray
    beat_s: np.ndarray
    downbeat_steps: np.ndarray
    beat_steps: np.ndarray


def bar_line_beats(n_beats: int, bar_beats=None) -> np.ndarray:
    """Index of every bar line among ``n_beats + 1`` beat times: ``(n_bars + 1,)``, from 0 to ``n_beats``."""
    if bar_beats is None:
        if n_beats < BEATS_PER_BAR or n_beats % BEATS_PER_BAR:
            raise ValueError(f"beat times must hold 4 * n_bars + 1 entries, got {n_beats + 1}")
        return np.arange(0, n_beats + 1, BEATS_PER_BAR)
    counts = np.asarray(bar_beats, dtype=np.int64).ravel()
    if len(counts) == 0 or counts.min() < 1 or counts.sum() != n_beats:
        raise ValueError(f"bars of {counts.tolist()} beats do not hold the {n_beats} beats given")
    return np.concatenate([[0], np.cumsum(counts)])


def downbeats_of(beats_s, bar_beats=None) -> np.ndarray:
    """The bar lines among the beat times."""
    beats = np.asarray(beats_s, dtype=np.float64)
    if beats.ndim != 1:
        raise ValueError(f"beat times must be one-dimensional, got {beats.shape}")
    return beats[bar_line_beats(len(beats) - 1, bar_beats)]


def distance_to_grid_s(times_s, grid_s) -> np.ndarray:
    """Seconds from each time to the nearest grid time."""
    times = np.asarray(times_s, dtype=np.float64).ravel()
    grid = np.sort(np.asarray(grid_s, dtype=np.float64).ravel())
    if len(times) == 0:
        return np.zeros(0)
    right = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1)
    return np.minimum(np.abs(times - grid[right - 1]), np.abs(times - grid[right]))


def sixteenth_s_at(times_s, beats_s) -> np.ndarray:
    """Length of a sixteenth in the beat each time lies in (the first or last beat outside the grid)."""
    beats = np.asarray(beats_s, dtype=np.float64)
    beat = np.clip(np.searchsorted(beats, np.asarray(times_s, dtype=np.float64).ravel(), side="right") - 1,
                   0, len(beats) - 2)
    return np.diff(beats)[beat] / STEPS_PER_BEAT


def cut_errors(cuts_s, beats_s, bar_beats=None) -> CutErrors:
    """Distance of every cut to the nearest downbeat and to the nearest beat, in seconds and sixteenths."""
    beats = np.asarray(beats_s, dtype=np.float64)
    cuts = np.asarray(cuts_s, dtype=np.float64).ravel()
    downbeat_s = distance_to_grid_s(cuts, downbeats_of(beats, bar_beats))
    beat_s = distance_to_grid_s(cuts, beats)
    step = sixteenth_s_at(cuts, beats) if len(cuts) else np.ones(0)
    return CutErrors(downbeat_s, beat_s, downbeat_s / step, beat_s / step)


def share_within(errors_s, tolerance_s: float = 0.04) -> float:
    """Share of errors at most ``tolerance_s`` (1.0 when there are none)."""
    errors = np.asarray(errors_s, dtype=np.float64).ravel()
    return float(np.mean(errors <= tolerance_s + 1e-12)) if len(errors) else 1.0


def bar_bpm(beats_s, bar_beats=None) -> np.ndarray:
    """``(n_bars,)`` tempo of every bar."""
    beats = np.asarray(beats_s, dtype=np.float64)
    lines = bar_line_beats(len(beats) - 1, bar_beats)
    return np.diff(lines) * SECONDS_PER_MINUTE / np.diff(beats[lines])


def tempo_steps(bar_bpm_values) -> np.ndarray:
    """``(n_bars - 1,)`` relative tempo step between neighbouring bars: ``max(a/b, b/a) - 1``."""
    tempi = np.asarray(bar_bpm_values, dtype=np.float64).ravel()
    return np.exp(np.abs(np.diff(np.log(tempi)))) - 1.0


def max_tempo_step(bar_bpm_values) -> float:
    """The largest relative tempo step between neighbouring bars (0.0 for one bar)."""
    return float(np.max(tempo_steps(bar_bpm_values), initial=0.0))


def tempo_changes_per_minute(bar_bpm_values, duration_s: float, tolerance: float = 0.02) -> float:
    """Bar-to-bar tempo steps larger than ``tolerance`` (relative) per minute of video."""
    if duration_s <= 0:
        raise ValueError(f"duration must be positive, got {duration_s}")
    changes = int(np.sum(tempo_steps(bar_bpm_values) > tolerance))
    return changes * SECONDS_PER_MINUTE / duration_s
