"""How well a beat grid fits a video's cuts, and how steady its tempo is (pure functions for benchmarks).

A grid is given as its beat times ``beats_s``: ``4 * n_bars + 1`` increasing times, the first one the
first downbeat and every fourth one a bar line (the layout of ``TimingPlan.beats_s``).
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


def _check_beats(beats_s) -> np.ndarray:
    beats = np.asarray(beats_s, dtype=np.float64)
    if beats.ndim != 1 or len(beats) < BEATS_PER_BAR + 1 or (len(beats) - 1) % BEATS_PER_BAR:
        raise ValueError(f"beat times must hold 4 * n_bars + 1 entries, got {beats.shape}")
    return beats


def distance_to_grid_s(times_s, grid_s) -> np.ndarray:
    """Seconds from each time to the nearest grid time."""
    times = np.asarray(times_s, dtype=np.float64).ravel()
    grid = np.sort(np.asarray(grid_s, dtype=np.float64).ravel())
    if len(times) == 0:
        return np.zeros(0)
    right = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1)
    return np.minimum(np.abs(times - grid[right - 1]), np.abs(times - grid[right]))


def sixteenth_s_at(times_s, beats_s) -> np.ndarray:
    """Length of a sixteenth in the bar each time lies in (the first or last bar outside the grid)."""
    beats = _check_beats(beats_s)
    downbeats = beats[::BEATS_PER_BAR]
    bar = np.clip(np.searchsorted(downbeats, np.asarray(times_s, dtype=np.float64).ravel(), side="right") - 1,
                  0, len(downbeats) - 2)
    return np.diff(downbeats)[bar] / (BEATS_PER_BAR * STEPS_PER_BEAT)


def cut_errors(cuts_s, beats_s) -> CutErrors:
    """Distance of every cut to the nearest downbeat and to the nearest beat, in seconds and sixteenths."""
    beats = _check_beats(beats_s)
    cuts = np.asarray(cuts_s, dtype=np.float64).ravel()
    downbeat_s = distance_to_grid_s(cuts, beats[::BEATS_PER_BAR])
    beat_s = distance_to_grid_s(cuts, beats)
    step = sixteenth_s_at(cuts, beats) if len(cuts) else np.ones(0)
    return CutErrors(downbeat_s, beat_s, downbeat_s / step, beat_s / step)


def share_within(errors_s, tolerance_s: float = 0.04) -> float:
    """Share of errors at most ``tolerance_s`` (1.0 when there are none)."""
    errors = np.asarray(errors_s, dtype=np.float64).ravel()
    return float(np.mean(errors <= tolerance_s + 1e-12)) if len(errors) else 1.0


def bar_bpm(beats_s) -> np.ndarray:
    """``(n_bars,)`` tempo of every bar."""
    downbeats = _check_beats(beats_s)[::BEATS_PER_BAR]
    return BEATS_PER_BAR * SECONDS_PER_MINUTE / np.diff(downbeats)


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
