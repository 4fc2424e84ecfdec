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
from dataclasses import dataclass, replace

import numpy as np

from diffbgm.music.bar_lengths import BarLengthProblem, solve_bar_lengths
from diffbgm.music.grid import BEATS_PER_BAR
from diffbgm.music.timing import (
    SECONDS_PER_MINUTE,
    TimingConfig,
    TimingPlan,
    VideoTooShortError,
    bar_seconds,
    beats_of_bars,
    plan_from_beats,
)

# How a cut becomes a bar line in a layout: it ends a short bar (2/4 or 3/4), or, one beat past a bar
# line, the bar before it and that beat become a bar of 3/4 and one of 2/4.
ENDS_SHORT_BAR, SPLIT_BARS = 1, 2
# Short bars in a row the search tells apart (a longer run pays as much as this one).
LONGEST_COUNTED_RUN = 3

# Failed bar-length solves after which accents are no longer put on beats (they are minor events, and
# each further try reruns the search).
ACCENT_ATTEMPTS = 4


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
    else:
        bars_s, start_beat, bar_beats = _search_bars(
            duration_s, cuts, _distinct_accents(accents, cuts, config.accent_merge_s), config)
    downbeats = _downbeats(bars_s, start_beat, bar_beats)
    return plan_from_beats(beats_of_bars(downbeats, bar_beats), duration_s, cuts, config.aligned_tolerance_steps,
                           accents, bar_beats)


def _downbeats(bars_s: np.ndarray, start_beat: int, bar_beats: np.ndarray) -> np.ndarray:
    """Bar lines of bars ``bars_s`` (four of their beats each) of ``bar_beats`` beats whose beat
    ``start_beat`` lies at 0 s."""
    lengths = bars_s * bar_beats / BEATS_PER_BAR
    return np.concatenate([[0.0], np.cumsum(lengths)]) - start_beat / BEATS_PER_BAR * bars_s[0]


def _bar_beats(layout: "_Layout") -> np.ndarray:
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


def _preferred_bar_s(config: TimingConfig) -> float:
    low, high = config.bpm_range
    preferred = config.preferred_bpm if config.preferred_bpm is not None else math.sqrt(low * high)
    return bar_seconds(min(max(preferred, low), high))


def _search_bars(duration_s: float, cuts: np.ndarray, accents: np.ndarray,
                 config: TimingConfig) -> tuple[np.ndarray, int, np.ndarray]:
    """Bar durations (four of their beats each) of the chosen grid, the beat at 0 s and the beats in
    each bar (see the module docstring)."""
    low, high = config.bpm_range
    bar_range = (bar_seconds(high), bar_seconds(low))
    preferred_bar = _preferred_bar_s(config)

    def solve(layout: _Layout, beats: np.ndarray, times: np.ndarray, warm: tuple[int, ...] = ()):
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
        layout = _GridSearch(duration_s, cuts, accents, replace(config, ramp_reach=reach)).best_layout()
        if layout is not None:
            solution = solve(layout, layout.beats, layout.times)
            if solution.bars_s is not None:
                return layout, solution
    search = _GridSearch(duration_s, cuts, accents, config)
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


def _refine(layout: "_Layout", solution, cuts, accents, solve) -> np.ndarray:
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


@dataclass(frozen=True)
class _Layout:
    """A plan of stage 1: the anchored beats (counted from the first bar line), their times, their
    sources (event number, ``-1`` for the video's end), whether each is a downbeat, how the bars before
    it end there (0: as they fall, :data:`ENDS_SHORT_BAR` or :data:`SPLIT_BARS`), and the beat at 0 s."""

    beats: np.ndarray
    times: np.ndarray
    sources: np.ndarray
    on_downbeat: np.ndarray
    ends_bar: np.ndarray
    start_beat: int


class _GridSearch:
    """The dynamic programme of stage 1.

    Events are the video's start, the cuts and accents in time order, then the video's end. A layout
    anchors some events on beats (a cut preferably on a downbeat) and drops the others; a segment runs
    from one anchored event to the next with a whole number of beats. A state at an anchored event is
    the segment that ends there (start, beat count, so its mean beat) and the phase in the bar it
    leaves, and how many short bars in a row came last; going on only needs those, so the programme
    is exact for its cost. The start's phase is free (a pickup) at ``pickup_cost``, and a cut that
    lands on beat 3 or 4 of a bar may end that bar early (a bar of 2/4 or 3/4, at
    ``meter_change_cost``) and so be the next bar line; one that lands on beat 2 after at least five
    beats without an anchor turns the bar before it and that beat into a bar of 3/4 and one of 2/4
    (twice the cost). A short bar right after ``r`` short bars pays ``r`` times
    ``consecutive_meter_cost`` more.
    """

    def __init__(self, duration_s: float, cuts: np.ndarray, accents: np.ndarray, config: TimingConfig) -> None:
        self.config = config
        times = np.concatenate([cuts, accents])
        order = np.argsort(times, kind="stable")
        self.times = np.concatenate([[0.0], times[order], [duration_s]])
        self.is_cut = np.concatenate([[False], (np.arange(len(times)) < len(cuts))[order], [False]])
        low, high = config.bpm_range
        self.shortest_beat, self.longest_beat = SECONDS_PER_MINUTE / high, SECONDS_PER_MINUTE / low
        self.log_preferred_beat = math.log(_preferred_bar_s(config) / BEATS_PER_BAR)
        self.ramp = config.ramp_reach * math.log1p(config.max_tempo_step)
        self.off_downbeat: set[int] = set()  # events that may not be downbeats
        self.unanchored: set[int] = set()  # events that may not be anchored at all

    def give_up(self, event: int, on_downbeat: bool) -> None:
        """Take a cut off its downbeat (it may still be a beat), or an event off the beat grid."""
        if on_downbeat and self.is_cut[event]:
            self.off_downbeat.add(event)
        else:
            self.unanchored.add(event)

    def give_up_accents(self) -> None:
        """Put no accent on the beat grid."""
        self.unanchored.update(int(k) for k in np.flatnonzero(~self.is_cut[1:-1]) + 1)

    def _anchor_cost(self, k: int) -> np.ndarray:
        """Cost of anchoring event ``k`` at each phase of the bar."""
        config = self.config
        if k == len(self.times) - 1:
            return np.array([0.0] + [config.partial_end_cost] * (BEATS_PER_BAR - 1))
        if k in self.unanchored:
            return np.full(BEATS_PER_BAR, np.inf)
        if not self.is_cut[k]:
            return np.zeros(BEATS_PER_BAR)
        on_beat = config.merged_cut_cost * np.array([0.0, 1.5, 1.0, 1.5])
        if k in self.off_downbeat:
            on_beat[0] = np.inf
        return on_beat

    def _may_end_bar(self, k: int) -> bool:
        """Event ``k`` is a cut that may end its bar early (a metre change) to be a bar line."""
        return (0 < k < len(self.times) - 1 and bool(self.is_cut[k]) and k not in self.off_downbeat
                and k not in self.unanchored and np.isfinite(self.config.meter_change_cost))

    def _drop_cost(self, j: int, k: int) -> float:
        inner = self.is_cut[j + 1:k]
        return float(self.config.dropped_cut_cost * inner.sum() + self.config.dropped_accent_cost * (~inner).sum())

    def _options(self, reached: np.ndarray, phase: int, run: int, beats: np.ndarray, anchor_cost: np.ndarray,
                 may_end_bar: bool) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int]]:
        """Ways to anchor the next event ``beats`` beats on from a state at ``phase`` after ``run``
        short bars in a row: (cost, phase after, run after, how the bar ends there)."""
        config = self.config
        new_phase = (phase + beats) % BEATS_PER_BAR
        # Still inside the bar after the run (no bar line since): the run goes on, else it is over.
        same_bar = phase + beats < BEATS_PER_BAR
        options = [(reached + anchor_cost[new_phase], new_phase, np.where(same_bar, run, 0), 0)]
        if not may_end_bar:
            return options
        # The bar holding the cut ends there: a short bar whose next bar line is the cut.
        before = np.where(same_bar, run, 0)
        short = np.isin(new_phase, config.short_bar_beats)
        options.append((np.where(short, reached + config.meter_change_cost + config.consecutive_meter_cost * before, np.inf),
                        np.zeros_like(new_phase), np.minimum(before + 1, LONGEST_COUNTED_RUN), ENDS_SHORT_BAR))
        if {2, 3} <= set(config.short_bar_beats):
            # The bar before the cut and its first beat become 3/4 + 2/4: right after the run when
            # that bar is the one after it.
            split = (new_phase == 1) & (beats > BEATS_PER_BAR)
            before = np.where(phase + beats == BEATS_PER_BAR + 1, run, 0)
            cost = reached + 2 * config.meter_change_cost + config.consecutive_meter_cost * 2 * before
            options.append((np.where(split, cost, np.inf), np.zeros_like(new_phase),
                            np.minimum(before + 2, LONGEST_COUNTED_RUN), SPLIT_BARS))
        return options

    def best_layout(self) -> _Layout | None:
        """The cheapest layout; ``None`` if no layout fits the range."""
        config = self.config
        n = len(self.times)
        # Per event: log mean beat and beat count of the last segment, phase, cost, back pointer.
        states: list[dict[str, np.ndarray] | None] = [None] * n
        start_cost = np.array([0.0] + [config.pickup_cost] * (BEATS_PER_BAR - 1))
        starts = np.flatnonzero(np.isfinite(start_cost))
        states[0] = {"log_beat": np.full(len(starts), np.nan), "beats": np.zeros(len(starts), dtype=np.int64),
                     "phase": starts, "run": np.zeros(len(starts), dtype=np.int64), "cost": start_cost[starts],
                     "back": np.zeros((len(starts), 4), dtype=np.int64)}
        pending: list[list[dict[str, np.ndarray]]] = [[] for _ in range(n)]
        for j in range(n):
            if j > 0:
                if not pending[j]:
                    continue
                states[j] = {key: np.concatenate([part[key] for part in pending[j]]) for key in pending[j][0]}
                pending[j] = []
            here = states[j]
            for k in range(j + 1, min(n, j + config.max_merged_shots + 1)):
                anchor_cost = self._anchor_cost(k)
                if not np.isfinite(anchor_cost).any():
                    continue
                may_end_bar = self._may_end_bar(k)
                length = self.times[k] - self.times[j]
                beats = np.arange(max(1, math.ceil(length / self.longest_beat - 1e-9)),
                                  math.floor(length / self.shortest_beat + 1e-9) + 1)
                if len(beats) == 0:
                    continue
                log_beat = np.log(length / beats)
                change = np.abs(log_beat[None, :] - here["log_beat"][:, None])
                reach = np.maximum(1.0, (here["beats"][:, None] + beats[None, :]) / (2.0 * BEATS_PER_BAR))
                step_cost = np.where(np.isnan(change), 0.0, config.change_weight * change**2 / reach)
                step_cost = np.where(change > self.ramp * reach, np.inf, step_cost)
                total = here["cost"][:, None] + step_cost
                segment_cost = (config.anchor_weight * beats / BEATS_PER_BAR * (log_beat - self.log_preferred_beat) ** 2
                                + self._drop_cost(j, k))
                for phase, run in sorted({(int(p), int(r)) for p, r in zip(here["phase"], here["run"])}):
                    members = np.flatnonzero((here["phase"] == phase) & (here["run"] == run))
                    best = members[np.argmin(total[members], axis=0)]
                    reached = total[best, np.arange(len(beats))] + segment_cost
                    for cost, phase_after, run_after, ends_bar in self._options(reached, phase, run, beats, anchor_cost,
                                                                                may_end_bar):
                        ok = np.isfinite(cost)
                        if not ok.any():
                            continue
                        pending[k].append({"log_beat": log_beat[ok], "beats": beats[ok], "phase": phase_after[ok],
                                           "run": run_after[ok], "cost": cost[ok],
                                           "back": np.stack([np.full(ok.sum(), j), best[ok], beats[ok],
                                                             np.full(ok.sum(), ends_bar)], axis=1)})
        final = states[n - 1]
        if final is None:
            return None
        state, k = int(np.argmin(final["cost"])), n - 1
        path = []
        while k > 0:
            j, previous, beats, ends_bar = (int(v) for v in states[k]["back"][state])
            path.append((k, beats, ends_bar, int(states[k]["phase"][state])))
            k, state = j, previous
        start_beat = int(states[0]["phase"][state])
        path.reverse()
        events = np.array([step[0] for step in path])
        anchor_beats = start_beat + np.cumsum([step[1] for step in path])
        sources = np.where(events == n - 1, -1, events)
        return _Layout(anchor_beats, self.times[events], sources, np.array([step[3] == 0 for step in path]),
                       np.array([step[2] for step in path]), start_beat)
