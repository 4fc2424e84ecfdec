"""Bar durations that put given beats at given times with the smoothest tempo (a small quadratic programme).

The unknowns are the durations of the bars, each measured as four of its beats (the length of a 4/4
bar at its tempo; the tempo is constant inside a bar, and a bar may hold 2, 3 or 4 beats). An anchor
says that beat ``q`` (counted from the first bar line) falls at time ``t``: the bars before it plus the
beats of its own bar before it, less the time of the beat at 0 s, sum to ``t``, a linear equality. The
beat at 0 s is usually the first bar line; it lies inside the first bar when the music starts with a
pickup. The objective is the sum of squared differences
of neighbouring bar durations (relative to the preferred bar) plus a weak pull towards the preferred
bar, so a needed change becomes a ramp over several bars rather than a jump. The tempo range and the
largest relative step between neighbouring bars are linear inequalities, handled by a primal active-set
method (Nocedal & Wright, *Numerical Optimization*, 2nd ed., section 16.5) whose every step solves the
KKT system of the equality-constrained problem.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR


@dataclass(frozen=True)
class BarLengthProblem:
    """One grid to solve.

    Parameters
    ----------
    n_bars:
        Number of bars.
    anchor_beats:
        Beat index (0 = the first bar line) of every anchored beat, at most ``4 * n_bars``.
    anchor_times_s:
        The time each anchored beat must fall at.
    bar_range_s:
        Shortest and longest allowed bar.
    preferred_bar_s:
        The bar length the pull aims at (and the unit the objective measures in).
    max_step:
        Largest relative change of tempo between neighbouring bars (``0.1`` = 10 %).
    pull_weight:
        Weight of the pull towards ``preferred_bar_s`` against the smoothness term.
    start_beat:
        The beat at 0 s (``0 < start_beat < 4``: a pickup, the first bar begins before the video).
    bar_beats:
        Beats in each bar; ``None``: 4 in every bar.
    """

    n_bars: int
    anchor_beats: np.ndarray
    anchor_times_s: np.ndarray
    bar_range_s: tuple[float, float]
    preferred_bar_s: float
    max_step: float = 0.1
    pull_weight: float = 1e-3
    start_beat: int = 0
    bar_beats: tuple[int, ...] | None = None


@dataclass(frozen=True)
class BarLengthSolution:
    """``bars_s``: the bar durations as four beats of each bar (a 4/4 bar's length at its tempo), or
    ``None`` when no grid meets the constraints; ``worst_bar``:
    the bar whose range or step is most violated by the equality-only solution (where to relax);
    ``active``: the bounds that hold with equality (a warm start for a similar problem)."""

    bars_s: np.ndarray | None
    worst_bar: int
    active: tuple[int, ...] = ()


def anchor_rows(n_bars: int, anchor_beats: np.ndarray, start_beat: int = 0, bar_beats=None) -> np.ndarray:
    """``(n_anchors, n_bars)`` coefficients: row ``a`` times the bars (as four of their beats) is the time
    of beat ``a`` (0 s being beat ``start_beat``; ``bar_beats``: beats in each bar, default 4)."""
    beats = np.asarray(anchor_beats, dtype=np.float64)
    if start_beat:
        return anchor_rows(n_bars, beats, 0, bar_beats) - anchor_rows(n_bars, np.array([start_beat]), 0, bar_beats)
    counts = np.full(n_bars, BEATS_PER_BAR) if bar_beats is None else np.asarray(bar_beats, dtype=np.float64)
    lines = np.concatenate([[0.0], np.cumsum(counts)])
    before = np.clip(beats[:, None] - lines[None, :-1], 0.0, counts[None, :])
    return before / BEATS_PER_BAR


def _inequalities(n: int, low: float, high: float, max_step: float) -> tuple[np.ndarray, np.ndarray]:
    """``G x <= h``: range of every bar and the step between neighbours, in units of the preferred bar."""
    eye = np.eye(n)
    ratio = 1.0 + max_step
    rise = eye[1:] - ratio * eye[:-1]
    fall = eye[:-1] - ratio * eye[1:]
    g = np.vstack([eye, -eye, rise, fall])
    h = np.concatenate([np.full(n, high), np.full(n, -low), np.zeros(2 * (n - 1))])
    return g, h


def _solve_kkt(hessian: np.ndarray, linear: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimise ``x'Hx/2 - f'x`` subject to ``A x = b``: the solution and the multipliers."""
    n, m = len(linear), len(b)
    kkt = np.block([[hessian, a.T], [a, np.zeros((m, m))]])
    rhs = np.concatenate([linear, b])
    try:
        solution = np.linalg.solve(kkt, rhs)
    except np.linalg.LinAlgError:
        solution = np.linalg.lstsq(kkt, rhs, rcond=None)[0]
    return solution[:n], solution[n:]


def solve_bar_lengths(problem: BarLengthProblem, max_iterations: int = 300,
                      initial_active: tuple[int, ...] = ()) -> BarLengthSolution:
    """The smoothest bar durations through the anchors within the range and step bounds.

    ``initial_active`` (the ``active`` of an earlier solution with the same bar count) starts the
    active set there instead of empty.
    """
    n = problem.n_bars
    unit = problem.preferred_bar_s
    a_eq = anchor_rows(n, problem.anchor_beats, problem.start_beat, problem.bar_beats)
    b_eq = np.asarray(problem.anchor_times_s, dtype=np.float64) / unit
    difference = np.diff(np.eye(n), axis=0)
    hessian = 2.0 * (difference.T @ difference + problem.pull_weight * np.eye(n))
    linear = 2.0 * problem.pull_weight * np.ones(n)
    low, high = (value / unit for value in problem.bar_range_s)
    g, h = _inequalities(n, low, high, problem.max_step)
    tolerance = 1e-9

    def worst(x: np.ndarray) -> int:
        violation = g @ x - h
        return int(np.argmax(violation)) % n if len(violation) else 0

    active: list[int] = list(initial_active)
    warm = bool(active)
    worst_bar = -1
    for _ in range(max_iterations):
        a = np.vstack([a_eq, g[active]]) if active else a_eq
        b = np.concatenate([b_eq, h[active]]) if active else b_eq
        x, multipliers = _solve_kkt(hessian, linear, a, b)
        if worst_bar < 0:
            worst_bar = worst(x) if n > 1 else 0
        if warm and np.max(np.abs(a @ x - b), initial=0.0) > 1e-7:
            active, warm, worst_bar = [], False, -1  # the warm start conflicts with the anchors: start cold
            continue
        if np.max(np.abs(a @ x - b), initial=0.0) > 1e-7:
            return BarLengthSolution(None, worst_bar)
        inequality_multipliers = multipliers[len(b_eq):]
        if len(inequality_multipliers) and inequality_multipliers.min() < -tolerance:
            active.pop(int(np.argmin(inequality_multipliers)))
            continue
        violation = g @ x - h
        violated = [int(i) for i in np.flatnonzero(violation > tolerance) if int(i) not in active]
        if not violated:
            return BarLengthSolution(x * unit, worst_bar, tuple(active))
        # One constraint at a time, the most violated first (the classic primal active-set step).
        active.append(max(violated, key=lambda i: violation[i]))
    return BarLengthSolution(None, worst_bar)
