"""Fit the music's bar grid to the video: tempo, bar count and bar lines that land on shot cuts.

Diff-BGM aligns music to video only implicitly (through its per-frame features); here the alignment is
explicit. The grid is a piecewise-constant tempo map: every kept shot cut is a bar line, every kept shot
spans a whole number of bars, and the last bar line is the video's last instant, so the music ends with
the video. A dynamic programme chooses which cuts to keep (shots shorter than about a bar are merged
into their neighbours) and how many bars each kept shot gets; a grid search over a global base tempo
picks the solution with the smallest tempo changes. A fixed ``bpm`` instead gives a constant tempo whose
bar grid is shifted to put as many cuts as possible on downbeats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BAR, STEPS_PER_BEAT
from diffbgm.music.tempo import TempoMap

SECONDS_PER_MINUTE = 60.0


class VideoTooShortError(ValueError):
    """The video is shorter than one bar at the slowest allowed tempo."""


@dataclass(frozen=True)
class TimingConfig:
    """Options of :func:`plan_timing`.

    Parameters
    ----------
    bpm_range:
        Lowest and highest tempo any bar may have.
    bpm:
        A fixed tempo; overrides the search (constant tempo, grid shifted to catch cuts).
    min_shot_bars:
        Kept shots last at least this many bars at the base tempo; shorter ones merge into neighbours
        (a kept shot may still be sped up to a whole bar within ``bpm_range``).
    base_bpm_step:
        Resolution of the base-tempo grid search.
    tempo_change_weight:
        Cost of a shot's tempo deviating from the base tempo, per squared octave (log2 ratio).
    dropped_cut_cost:
        Cost of not putting a cut on a bar line (by default as costly as a 50 % tempo deviation).
    preferred_bpm:
        Tie-breaker pulling the base tempo towards this value; ``None`` = geometric middle of the range.
    max_merged_shots:
        The most consecutive shots one kept segment may span (bounds the dynamic programme's work).
    aligned_tolerance_steps:
        A cut within this many sixteenths of a downbeat counts as aligned.
    """

    bpm_range: tuple[float, float] = (70.0, 140.0)
    bpm: float | None = None
    min_shot_bars: float = 0.75
    base_bpm_step: float = 0.5
    tempo_change_weight: float = 3.0
    dropped_cut_cost: float = 1.0
    preferred_bpm: float | None = None
    max_merged_shots: int = 8
    aligned_tolerance_steps: float = 1.0


@dataclass
class TimingPlan:
    """The music's time grid for one video.

    Attributes
    ----------
    tempo_map:
        Beat <-> seconds map of the music (``diffbgm.music.tempo.TempoMap``), beat 0 = first downbeat.
    n_bars:
        Number of bars of music.
    beats_s:
        ``(n_bars * 4 + 1,)`` time of every beat, the last entry being the final bar line.
    downbeats_s:
        ``(n_bars + 1,)`` time of every bar line, the last one the end of the music.
    duration_s:
        The video's duration.
    cuts_s:
        The video's shot cuts (seconds), as given.
    cut_kept:
        ``(n_cuts,)`` bool: the cut is a bar line by construction.
    cut_error_steps:
        ``(n_cuts,)`` distance from each cut to the nearest downbeat, in sixteenths of the local tempo.
    tempo_bpm:
        Median tempo over the bars (what a single-tempo description of the music says).
    aligned_tolerance_steps:
        Tolerance behind :attr:`cut_aligned`.
    """

    tempo_map: TempoMap
    n_bars: int
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    duration_s: float
    cuts_s: np.ndarray
    cut_kept: np.ndarray
    cut_error_steps: np.ndarray
    tempo_bpm: float
    aligned_tolerance_steps: float = 1.0

    @property
    def n_beats(self) -> int:
        """Number of beats of music."""
        return self.n_bars * BEATS_PER_BAR

    @property
    def bar_bpm(self) -> np.ndarray:
        """``(n_bars,)`` tempo of each bar."""
        return BEATS_PER_BAR * SECONDS_PER_MINUTE / np.diff(self.downbeats_s)

    @property
    def cut_aligned(self) -> np.ndarray:
        """``(n_cuts,)`` bool: the cut lies within the tolerance of a downbeat."""
        return self.cut_error_steps <= self.aligned_tolerance_steps

    @property
    def aligned_fraction(self) -> float:
        """Share of cuts that lie on a downbeat (1.0 when there are no cuts)."""
        return float(self.cut_aligned.mean()) if len(self.cuts_s) else 1.0


def bar_seconds(bpm: float) -> float:
    """Length of one 4/4 bar at ``bpm``."""
    return BEATS_PER_BAR * SECONDS_PER_MINUTE / bpm


def plan_timing(duration_s: float, cuts_s, config: TimingConfig = TimingConfig()) -> TimingPlan:
    """Choose the music's tempo map and bar grid for a video.

    Parameters
    ----------
    duration_s:
        The video's duration in seconds.
    cuts_s:
        Shot-cut times in seconds (``VideoAnalysis.cuts_s``); cuts outside ``(0, duration_s)`` are ignored.
    config:
        Tempo range, fixed tempo and cost weights.

    Raises
    ------
    VideoTooShortError
        When the video is shorter than one bar at the slowest allowed (or the fixed) tempo.
    """
    low, high = config.bpm_range
    if not 0 < low <= high:
        raise ValueError(f"bpm_range must satisfy 0 < low <= high, got {config.bpm_range}")
    cuts = np.sort(np.asarray(cuts_s, dtype=np.float64).ravel())
    cuts = cuts[(cuts > 0.0) & (cuts < duration_s)]
    slowest = config.bpm if config.bpm is not None else low
    if duration_s < bar_seconds(slowest):
        raise VideoTooShortError(
            f"the video lasts {duration_s:.2f} s, shorter than one bar at {slowest:g} BPM "
            f"({bar_seconds(slowest):.2f} s)"
        )
    if config.bpm is not None:
        downbeats = _constant_grid(duration_s, cuts, config.bpm)
    else:
        downbeats = _search_grid(duration_s, cuts, config)
        if downbeats is None:
            # No whole-bar split of the video keeps every bar in range: fall back on a constant tempo.
            downbeats = _constant_grid(duration_s, cuts, math.sqrt(low * high))
    return _plan_from_downbeats(downbeats, duration_s, cuts, config.aligned_tolerance_steps)


def _plan_from_downbeats(
    downbeats: np.ndarray, duration_s: float, cuts: np.ndarray, tolerance_steps: float
) -> TimingPlan:
    n_bars = len(downbeats) - 1
    fractions = np.arange(BEATS_PER_BAR) / BEATS_PER_BAR
    bar_starts, bar_lengths = downbeats[:-1], np.diff(downbeats)
    beats = (bar_starts[:, None] + bar_lengths[:, None] * fractions[None, :]).ravel()
    beats = np.append(beats, downbeats[-1])
    nearest = np.abs(cuts[:, None] - downbeats[None, :]).argmin(axis=1) if len(cuts) else np.zeros(0, int)
    error_s = np.abs(cuts - downbeats[nearest]) if len(cuts) else np.zeros(0)
    # Measure each error in sixteenths of the bar the cut lies in.
    bar_of_cut = np.clip(np.searchsorted(downbeats, cuts, side="right") - 1, 0, n_bars - 1)
    step_s = bar_lengths[bar_of_cut] / (BEATS_PER_BAR * STEPS_PER_BEAT) if len(cuts) else np.zeros(0)
    error_steps = error_s / step_s if len(cuts) else np.zeros(0)
    kept = error_s < 1e-6
    tempo_bpm = float(np.median(BEATS_PER_BAR * SECONDS_PER_MINUTE / bar_lengths))
    return TimingPlan(
        tempo_map=TempoMap.from_beat_times(beats),
        n_bars=n_bars,
        beats_s=beats,
        downbeats_s=downbeats,
        duration_s=float(duration_s),
        cuts_s=cuts,
        cut_kept=kept,
        cut_error_steps=error_steps,
        tempo_bpm=tempo_bpm,
        aligned_tolerance_steps=tolerance_steps,
    )


def _constant_grid(duration_s: float, cuts: np.ndarray, bpm: float) -> np.ndarray:
    """Bar lines at a constant tempo, shifted by less than a bar to put most cuts on downbeats.

    The music starts at the first bar line (silence before it) and its last bar line lies at or just
    after the video's end; the audio is trimmed to the video afterwards.
    """
    bar = bar_seconds(bpm)
    step = bar / (BEATS_PER_BAR * STEPS_PER_BEAT)
    candidates = np.unique(np.concatenate([[0.0], np.mod(cuts, bar)]))
    # Keep at least one whole bar inside the video.
    candidates = candidates[candidates <= duration_s - bar + 1e-9]
    if len(candidates) == 0:
        candidates = np.array([0.0])
    best_key, best_offset = None, 0.0
    for offset in candidates:
        phase = np.mod(cuts - offset, bar)
        error_steps = np.minimum(phase, bar - phase) / step
        # Most cuts within a sixteenth, then the smallest total error, then the least leading silence.
        key = (-int(np.sum(error_steps <= 1.0 + 1e-9)), float(np.sum(error_steps)), float(offset))
        if best_key is None or key < best_key:
            best_key, best_offset = key, float(offset)
    n_bars = max(1, math.ceil((duration_s - best_offset) / bar - 1e-9))
    return best_offset + bar * np.arange(n_bars + 1)


def _search_grid(duration_s: float, cuts: np.ndarray, config: TimingConfig) -> np.ndarray | None:
    """Best piecewise-constant grid over the base-tempo search, or ``None`` if none is feasible."""
    low, high = config.bpm_range
    preferred = config.preferred_bpm if config.preferred_bpm is not None else math.sqrt(low * high)
    boundaries = np.concatenate([[0.0], cuts, [duration_s]])
    n_bases = max(1, int(round((high - low) / config.base_bpm_step)) + 1)
    best_cost, best_grid = math.inf, None
    for base in np.linspace(low, high, n_bases):
        solution = _best_split(boundaries, base, config)
        if solution is None:
            continue
        cost, grid = solution
        cost += 0.01 * math.log2(base / preferred) ** 2
        if cost < best_cost - 1e-12:
            best_cost, best_grid = cost, grid
    return best_grid


def _best_split(
    boundaries: np.ndarray, base_bpm: float, config: TimingConfig
) -> tuple[float, np.ndarray] | None:
    """Dynamic programme over kept boundaries for one base tempo -> (cost, bar lines)."""
    low, high = config.bpm_range
    base_bar = bar_seconds(base_bpm)
    n = len(boundaries)
    cost = np.full(n, math.inf)
    cost[0] = 0.0
    previous = np.full(n, -1)
    bars = np.zeros(n, dtype=int)
    for j in range(1, n):
        for i in range(max(0, j - config.max_merged_shots), j):
            if not math.isfinite(cost[i]):
                continue
            length = boundaries[j] - boundaries[i]
            if length < config.min_shot_bars * base_bar - 1e-9:
                continue
            n_bars, tempo_cost = _bars_for(length, base_bpm, low, high, config.tempo_change_weight)
            if n_bars == 0:
                continue
            total = cost[i] + tempo_cost
            if j - i > 1:
                # A merged cut costs less the closer it happens to fall to a bar line anyway.
                inner = boundaries[i + 1 : j]
                bar = length / n_bars
                phase = np.mod(inner - boundaries[i], bar)
                error_steps = np.minimum(phase, bar - phase) / (bar / STEPS_PER_BAR)
                total += config.dropped_cut_cost * float(np.sum(np.minimum(1.0, error_steps / 2.0)))
            if total < cost[j]:
                cost[j], previous[j], bars[j] = total, i, n_bars
    if not math.isfinite(cost[-1]):
        return None
    pieces: list[np.ndarray] = []
    j = n - 1
    while j > 0:
        i = previous[j]
        pieces.append(np.linspace(boundaries[i], boundaries[j], bars[j] + 1)[:-1])
        j = i
    grid = np.concatenate(pieces[::-1] + [np.array([boundaries[-1]])])
    return float(cost[-1]), grid


def _bars_for(length_s: float, base_bpm: float, low: float, high: float, weight: float) -> tuple[int, float]:
    """Whole number of bars for a segment closest in tempo to the base, within range -> (bars, cost)."""
    exact = length_s / bar_seconds(base_bpm)
    best = (0, math.inf)
    for n_bars in {max(1, math.floor(exact)), max(1, math.ceil(exact))}:
        local_bpm = BEATS_PER_BAR * SECONDS_PER_MINUTE * n_bars / length_s
        if not low - 1e-9 <= local_bpm <= high + 1e-9:
            continue
        tempo_cost = weight * math.log2(local_bpm / base_bpm) ** 2
        if tempo_cost < best[1]:
            best = (n_bars, tempo_cost)
    return best
