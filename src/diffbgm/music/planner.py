"""The timing planner: fit the music's bar grid to the video: shot cuts on downbeats, a steady tempo that ramps, never jumps.

Diff-BGM aligns music to video only implicitly (through its per-frame features); here the alignment is
explicit, the way a film composer syncs a cue to picture: musical boundaries (hard cuts and the chosen
point of each transition, ``cuts_s``) fall on bar lines, minor accents (``accents_s``: flash frames,
very short shots) on beats, and the tempo drifts smoothly between them. Bars hold 4 beats, but a bar
may end early at a cut (a bar of 2/4 or 3/4), as a film composer changes the metre to hit a cut
rather than bend the tempo: a steady tempo then puts shots of any whole number of beats on bar lines.
The video's first instant is the first bar line, or a beat of a first bar that begins before the
video: a pickup (anacrusis), as a composer writes when the first cut comes too early for a whole bar.
The video's end is the final bar line, or a beat of a last, partial bar whose bar line then lies after
the end (``TimingPlan.music_end_s``; the audio is trimmed to the video).

Two stages:

1. A dynamic programme over the events (cuts, accents, the video's end) chooses which to anchor on
   the beat grid and how many beats lie between consecutive anchored events. A cut pays for landing on
   a beat other than the downbeat (more on the second and fourth beat), an event left off the grid pays
   more, ending the video inside a bar pays a little, and so does ending a bar early at a cut on its
   third or fourth beat (a metre change) and starting the video on a beat other than the downbeat (a
   pickup). Each segment's mean tempo must lie in ``bpm_range`` and pays for its distance from
   ``preferred_bpm``; a change of mean tempo between
   neighbouring segments pays by its square, and one that ramps over the two segments could not absorb
   within ``max_tempo_step`` per bar (times ``ramp_reach``) is forbidden.
2. The bar durations are then the smoothest ones through all the anchored beats
   (:func:`diffbgm.music.bar_lengths.solve_bar_lengths`: least squares of neighbouring differences
   under the equality constraints, range and step bounds). If no such grid exists, the anchored event
   nearest the trouble is taken off its downbeat (or off the grid) and the search runs again.

A fixed ``bpm`` gives a constant tempo from time 0 whose last bar line is the first at or after the
video's end.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from diffbgm.music.bar_lengths import BarLengthProblem, solve_bar_lengths
from diffbgm.music.bar_search import SPLIT_BARS, GridSearch, Layout, preferred_bar_s
from diffbgm.music.grid import BEATS_PER_BAR
from diffbgm.music.sync_metrics import cut_errors
from diffbgm.music.timing import (
    SECONDS_PER_MINUTE,
    TimingConfig,
    TimingPlan,
    VideoTooShortError,
    bar_seconds,
    beats_of_bars,
    plan_from_beats,
)

# Failed bar-length solves after which accents are no longer put on beats (they are minor events, and
# each further try reruns the search).
ACCENT_ATTEMPTS = 4
# An event this close to a beat of the solved grid is on it (the solve meets its anchors to rounding).
ON_GRID_S = 1e-6


def _events_inside(times_s, duration_s: float) -> np.ndarray:
    times = np.sort(np.asarray(times_s, dtype=np.float64).ravel())
    return times[(times > 0.0) & (times < duration_s)]


def plan_timing(duration_s: float, cuts_s, config: TimingConfig = TimingConfig(), accents_s=()) -> TimingPlan:
    """Choose the music's tempo map and bar grid for a video.

    Parameters
    ----------
    duration_s:
        The video's duration in seconds.
    cuts_s:
        Musical boundaries in seconds (hard cuts, the chosen point of each transition); those outside
        ``(0, duration_s)`` are ignored.
    config:
        Tempo range (or fixed tempo) and cost weights.
    accents_s:
        Minor cuts that should fall on beats (flash frames, very short shots).

    Raises
    ------
    VideoTooShortError
        When the video is shorter than ``config.min_duration_s``.
    """
    low, high = config.bpm_range
    if not 0 < low <= high:
        raise ValueError(f"bpm_range must satisfy 0 < low <= high, got {config.bpm_range}")
    if config.bpm is not None and config.bpm <= 0:
        raise ValueError(f"bpm must be positive, got {config.bpm}")
    if duration_s < config.min_duration_s:
        raise VideoTooShortError(
            f"the video lasts {duration_s:.2f} s; scoring needs at least {config.min_duration_s:g} s: use a longer clip"
        )
    cuts = _events_inside(cuts_s, duration_s)
    accents = _events_inside(accents_s, duration_s)
    if config.bpm is not None:
        bars_s = _constant_bars(duration_s, config.bpm)
        start_beat, bar_beats = 0, np.full(len(bars_s), BEATS_PER_BAR)
        downbeats = _downbeats(bars_s, start_beat, bar_beats)
    else:
        downbeats, bar_beats = _grid_with_slack(duration_s, cuts, _distinct_accents(accents, cuts, config.accent_merge_s),
                                                config)
    return plan_from_beats(beats_of_bars(downbeats, bar_beats), duration_s, cuts, config.aligned_tolerance_steps,
                           accents, bar_beats)


def _grid_with_slack(duration_s: float, cuts: np.ndarray, accents: np.ndarray,
                     config: TimingConfig) -> tuple[np.ndarray, np.ndarray]:
    """Bar lines and beats per bar of the searched grid that ends on a beat at the video's end, or,
    when it leaves a cut off its downbeat, of the best of those that end ``config.end_slack_beats``
    after it (most cuts on downbeats, then cuts and accents on beats; the earliest end on a tie)."""
    slacks = (0.0,)
    if len(cuts) + len(accents) <= config.end_slack_max_events:
        slacks += tuple(config.end_slack_beats)
    beat_s = preferred_bar_s(config) / BEATS_PER_BAR
    best, best_score = None, None
    for slack in slacks:
        bars_s, start_beat, bar_beats = _search_bars(duration_s + slack * beat_s, cuts, accents, config)
        downbeats = _downbeats(bars_s, start_beat, bar_beats)
        # The music ends at the first bar line at or after the video's end, wherever the grid ends.
        bars = int(np.argmax(downbeats >= duration_s - 1e-9))
        downbeats, bar_beats = downbeats[:bars + 1], bar_beats[:bars]
        errors = cut_errors(np.concatenate([cuts, accents]), beats_of_bars(downbeats, bar_beats), bar_beats)
        on_downbeat = int((errors.downbeat_s[:len(cuts)] < ON_GRID_S).sum())
        on_beat = int((errors.beat_s < ON_GRID_S).sum())
        if best_score is None or (on_downbeat, on_beat) > best_score:
            best, best_score = (downbeats, bar_beats), (on_downbeat, on_beat)
        if on_downbeat == len(cuts):
            break
    return best


def _downbeats(bars_s: np.ndarray, start_beat: int, bar_beats: np.ndarray) -> np.ndarray:
    """Bar lines of bars ``bars_s`` (four of their beats each) of ``bar_beats`` beats whose beat
    ``start_beat`` lies at 0 s."""
    lengths = bars_s * bar_beats / BEATS_PER_BAR
    return np.concatenate([[0.0], np.cumsum(lengths)]) - start_beat / BEATS_PER_BAR * bars_s[0]


def _bar_beats(layout: Layout) -> np.ndarray:
    """Beats in each bar of a layout: 4, but a bar ends early at each cut the layout ends a bar at (the
    two bars before a cut one beat past a bar line become 3 + 2 beats), and bars go on to the first
    bar line at or after the video's end."""
    lines = [0]
    split = layout.beats[layout.ends_bar == SPLIT_BARS]
    early = np.sort(np.concatenate([layout.beats[layout.ends_bar > 0], split - 2]))
    while lines[-1] < layout.beats[-1]:
        line = lines[-1] + BEATS_PER_BAR
        inside = early[(early > lines[-1]) & (early < line)]
        lines.append(int(inside[0]) if len(inside) else line)
    return np.diff(lines)


def _distinct_accents(accents: np.ndarray, cuts: np.ndarray, merge_s: float) -> np.ndarray:
    if len(cuts) == 0 or len(accents) == 0:
        return accents
    return accents[np.abs(accents[:, None] - cuts[None, :]).min(axis=1) > merge_s]


def _constant_bars(duration_s: float, bpm: float) -> np.ndarray:
    """Bars of a constant tempo from time 0; the last bar line is the first at or after the end."""
    bar = bar_seconds(bpm)
    return np.full(max(1, math.ceil(duration_s / bar - 1e-9)), bar)


def _search_bars(duration_s: float, cuts: np.ndarray, accents: np.ndarray,
                 config: TimingConfig) -> tuple[np.ndarray, int, np.ndarray]:
    """Bar durations (four of their beats each) of the chosen grid, the beat at 0 s and the beats in
    each bar (see the module docstring)."""
    low, high = config.bpm_range
    bar_range = (bar_seconds(high), bar_seconds(low))
    preferred_bar = preferred_bar_s(config)

    def solve(layout: Layout, beats: np.ndarray, times: np.ndarray, warm: tuple[int, ...] = ()):
        bar_beats = _bar_beats(layout)
        problem = BarLengthProblem(len(bar_beats), beats, times, bar_range, preferred_bar, config.max_tempo_step,
                                   config.pull_weight, layout.start_beat, tuple(int(n) for n in bar_beats))
        return solve_bar_lengths(problem, initial_active=warm)

    found = _first_solved_layout(duration_s, cuts, accents, config, solve)
    if found is None:
        # Nothing but the video's length fits the range: a steady tempo, the video ending inside a bar.
        bars = _constant_bars(duration_s, SECONDS_PER_MINUTE * BEATS_PER_BAR / preferred_bar)
        return bars, 0, np.full(len(bars), BEATS_PER_BAR)
    layout, solution = found
    return _refine(layout, solution, cuts, accents, solve), layout.start_beat, _bar_beats(layout)


def _first_solved_layout(duration_s, cuts, accents, config, solve):
    """The layout and bar-length solution of the first plan that solves."""
    # Bolder plans first: each puts more cuts on downbeats, and more often has no grid that fits.
    for reach in sorted((r for r in config.bold_ramp_reaches if r > config.ramp_reach), reverse=True):
        layout = GridSearch(duration_s, cuts, accents, replace(config, ramp_reach=reach)).best_layout()
        if layout is not None:
            solution = solve(layout, layout.beats, layout.times)
            if solution.bars_s is not None:
                return layout, solution
    search = GridSearch(duration_s, cuts, accents, config)
    # Each failed solve gives up one kept cut or placed beat (after a few, every accent), so this ends.
    for attempt in range(2 * len(cuts) + len(accents) + 1):
        if attempt == ACCENT_ATTEMPTS:
            search.give_up_accents()
        layout = search.best_layout()
        if layout is None:
            return None
        solution = solve(layout, layout.beats, layout.times)
        if solution.bars_s is not None:
            return layout, solution
        movable = np.flatnonzero(layout.sources >= 0)
        if len(movable) == 0:
            return None
        bar_beats = _bar_beats(layout)
        worst = min(solution.worst_bar, len(bar_beats) - 1)
        trouble_beat = bar_beats[:worst].sum() + bar_beats[worst] / 2
        nearest = movable[np.argmin(np.abs(layout.beats[movable] - trouble_beat))]
        search.give_up(int(layout.sources[nearest]), bool(layout.on_downbeat[nearest]))
    return None


def _refine(layout: Layout, solution, cuts, accents, solve) -> np.ndarray:
    """Greedily pin more events to the grid the solution leaves them near, keeping each pin that the
    bar-length solve can still satisfy: a cut off its downbeat onto the nearest downbeat (or, failing
    that, beat), an accent off the beat grid onto the nearest beat."""
    beats, times, start_beat = layout.beats, layout.times, layout.start_beat
    bar_beats = _bar_beats(layout)
    lines = np.concatenate([[0], np.cumsum(bar_beats)])
    bars = solution.bars_s
    active = solution.active
    anchored = set(np.round(times, 9))

    def beat_of(time_s: float, bars_s: np.ndarray) -> float:
        return float(np.interp(time_s, _downbeats(bars_s, start_beat, bar_beats), lines))

    candidates = [(t, True) for t in cuts] + [(t, False) for t in accents]
    for time_s, is_cut in sorted(candidates):
        if round(time_s, 9) in anchored:
            continue
        position = beat_of(time_s, bars)
        targets = [int(lines[np.argmin(np.abs(lines - position))])] if is_cut else []
        targets.append(round(position))
        for target in targets:
            if abs(target - position) > 1.0 or target <= start_beat or target >= beats[-1] or np.any(beats == target):
                continue
            order = np.searchsorted(beats, target)
            trial_beats, trial_times = np.insert(beats, order, target), np.insert(times, order, time_s)
            if np.any(np.diff(trial_times) <= 0):
                continue
            trial = solve(layout, trial_beats, trial_times, active)
            if trial.bars_s is not None:
                beats, times, bars, active = trial_beats, trial_times, trial.bars_s, trial.active
                anchored.add(round(time_s, 9))
                break
    return bars
