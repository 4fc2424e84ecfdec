"""Stage 1 of the timing planner (:mod:`diffbgm.music.planner`): the dynamic programme that chooses
which events to anchor on the beat grid, how many beats lie between them and where bars end early."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR
from diffbgm.music.timing import SECONDS_PER_MINUTE, TimingConfig, bar_seconds

# How a cut becomes a bar line in a layout: it ends a short bar (2/4 or 3/4), or, one beat past a bar
# line, the bar before it and that beat become a bar of 3/4 and one of 2/4.
ENDS_SHORT_BAR, SPLIT_BARS = 1, 2
# Short bars in a row the search tells apart (a longer run pays as much as this one).
LONGEST_COUNTED_RUN = 3


def preferred_bar_s(config: TimingConfig) -> float:
    """The bar the search leans towards: ``preferred_bpm``, else the geometric middle of the range."""
    low, high = config.bpm_range
    preferred = config.preferred_bpm if config.preferred_bpm is not None else math.sqrt(low * high)
    return bar_seconds(min(max(preferred, low), high))


@dataclass(frozen=True)
class Layout:
    """A plan of stage 1: the anchored beats (counted from the first bar line), their times, their
    sources (event number, ``-1`` for the video's end), whether each is a downbeat, how the bars before
    it end there (0: as they fall, :data:`ENDS_SHORT_BAR` or :data:`SPLIT_BARS`), and the beat at 0 s."""

    beats: np.ndarray
    times: np.ndarray
    sources: np.ndarray
    on_downbeat: np.ndarray
    ends_bar: np.ndarray
    start_beat: int


class GridSearch:
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
        self.log_preferred_beat = math.log(preferred_bar_s(config) / BEATS_PER_BAR)
        self.ramp = config.ramp_reach * math.log1p(config.max_tempo_step)
        self.ends_short_bar = np.isin(np.arange(BEATS_PER_BAR), config.short_bar_beats)  # by phase
        self.may_split = {2, 3} <= set(config.short_bar_beats)
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
        short = self.ends_short_bar[new_phase]
        options.append((np.where(short, reached + config.meter_change_cost + config.consecutive_meter_cost * before, np.inf),
                        np.zeros_like(new_phase), np.minimum(before + 1, LONGEST_COUNTED_RUN), ENDS_SHORT_BAR))
        if self.may_split:
            # The bar before the cut and its first beat become 3/4 + 2/4: right after the run when
            # that bar is the one after it.
            split = (new_phase == 1) & (beats > BEATS_PER_BAR)
            before = np.where(phase + beats == BEATS_PER_BAR + 1, run, 0)
            cost = reached + 2 * config.meter_change_cost + config.consecutive_meter_cost * 2 * before
            options.append((np.where(split, cost, np.inf), np.zeros_like(new_phase),
                            np.minimum(before + 2, LONGEST_COUNTED_RUN), SPLIT_BARS))
        return options

    def best_layout(self) -> Layout | None:
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
            # The states at event j grouped by (phase, run), in that order: each group goes on alike.
            keys = here["phase"] * (LONGEST_COUNTED_RUN + 1) + here["run"]
            groups = [(int(key) // (LONGEST_COUNTED_RUN + 1), int(key) % (LONGEST_COUNTED_RUN + 1),
                       np.flatnonzero(keys == key)) for key in np.unique(keys)]
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
                for phase, run, members in groups:
                    best = members[np.argmin(total[members], axis=0)]
                    reached = total[best, np.arange(len(beats))] + segment_cost
                    for cost, phase_after, run_after, ends_bar in self._options(reached, phase, run, beats, anchor_cost,
                                                                                may_end_bar):
                        ok = np.flatnonzero(np.isfinite(cost))
                        if not len(ok):
                            continue
                        back = np.empty((len(ok), 4), dtype=np.int64)
                        back[:, 0], back[:, 1], back[:, 2], back[:, 3] = j, best[ok], beats[ok], ends_bar
                        pending[k].append({"log_beat": log_beat[ok], "beats": beats[ok], "phase": phase_after[ok],
                                           "run": run_after[ok], "cost": cost[ok], "back": back})
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
        return Layout(anchor_beats, self.times[events], sources, np.array([step[3] == 0 for step in path]),
                       np.array([step[2] for step in path]), start_beat)
