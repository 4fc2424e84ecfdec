"""Does the music follow the picture inside a shot? Per-bar measures between a video's curves and a score.

The picture side is any per-frame curve (the analysis' ``motion`` or ``brightness`` at its
``frame_times``, or the known construction of a synthetic video), averaged over each bar with
:func:`bar_means`; the music side is a whole piece's ``(2, steps, 128)`` roll, on the bar grid of its
timing plan (``TimingPlan.downbeats_s``). Used by ``benchmarks/eval_video_adherence.py``:

- rank correlations per bar (motion vs notes per bar, brightness vs mean sounding pitch):
  :func:`rank_correlation` of :func:`bar_means` with :func:`notes_per_bar` or :func:`mean_pitch_per_bar`;
- a busy / static ratio of notes per bar inside one shot: :func:`bars_within`, :func:`mean_ratio`;
- how much the same seed writes the same notes for different pictures: :func:`onset_jaccard`;
- whether the music changes more at cut bar lines than at other bar lines: :func:`cut_bar_lines`,
  :func:`cut_novelty_rank` (over :func:`diffbgm.evaluation.adherence.bar_novelty`);
- onsets and velocities near moments of the picture (flashes, hits): :func:`near_events`,
  :func:`time_near_events`.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from diffbgm.evaluation.adherence import bar_novelty, mean_sounding_pitch, onsets_per_beat
from diffbgm.music.grid import BEATS_PER_BAR, ONSET, STEPS_PER_BAR


def bar_means(times_s: np.ndarray, values: np.ndarray, downbeats_s: np.ndarray) -> np.ndarray:
    """Mean of a per-frame curve over each bar ``[downbeats_s[i], downbeats_s[i + 1])``; NaN in a bar
    without a sample.

    Returns
    -------
    ndarray, shape (len(downbeats_s) - 1,)
    """
    times_s, values = np.asarray(times_s, np.float64), np.asarray(values, np.float64)
    bar_of = np.searchsorted(np.asarray(downbeats_s, np.float64), times_s, side="right") - 1
    n_bars = len(downbeats_s) - 1
    inside = (bar_of >= 0) & (bar_of < n_bars)
    sums = np.bincount(bar_of[inside], weights=values[inside], minlength=n_bars)
    counts = np.bincount(bar_of[inside], minlength=n_bars)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)


def notes_per_bar(roll: np.ndarray) -> np.ndarray:
    """Onsets in each bar of a ``(2, steps, pitches)`` roll (trailing steps short of a bar ignored)."""
    per_beat = onsets_per_beat(roll[ONSET])
    bars = len(per_beat) // BEATS_PER_BAR
    return per_beat[: bars * BEATS_PER_BAR].reshape(bars, BEATS_PER_BAR).sum(axis=1)


def mean_pitch_per_bar(roll: np.ndarray) -> np.ndarray:
    """Mean sounding MIDI pitch in each bar of a ``(2, steps, pitches)`` roll; NaN in a silent bar."""
    return mean_sounding_pitch(roll, unit_steps=STEPS_PER_BAR)


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho over the pairs where both are defined; NaN with fewer than 3 or a constant side."""
    n = min(len(x), len(y))
    x, y = np.asarray(x[:n], np.float64), np.asarray(y[:n], np.float64)
    kept = ~(np.isnan(x) | np.isnan(y))
    if kept.sum() < 3 or np.ptp(x[kept]) == 0 or np.ptp(y[kept]) == 0:
        return float("nan")
    return float(spearmanr(x[kept], y[kept]).statistic)


def bars_within(downbeats_s: np.ndarray, start_s: float, end_s: float) -> np.ndarray:
    """Boolean per bar: the bar lies wholly inside ``[start_s, end_s]`` (bars across a change are neither)."""
    downbeats_s = np.asarray(downbeats_s, np.float64)
    return (downbeats_s[:-1] >= start_s - 1e-6) & (downbeats_s[1:] <= end_s + 1e-6)


def mean_ratio(values: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> float:
    """``mean(values[numerator]) / mean(values[denominator])``: inf over a zero mean, NaN when a side
    has no bar or both means are zero."""
    if not numerator.any() or not denominator.any():
        return float("nan")
    top, bottom = float(np.mean(values[numerator])), float(np.mean(values[denominator]))
    if bottom == 0.0:
        return float("inf") if top > 0 else float("nan")
    return top / bottom


def onset_jaccard(roll_a: np.ndarray, roll_b: np.ndarray) -> float:
    """Jaccard index of the onset cells (step, pitch) of two rolls over their common length; NaN when
    neither has an onset."""
    steps = min(roll_a.shape[1], roll_b.shape[1])
    a, b = roll_a[ONSET, :steps] > 0.5, roll_b[ONSET, :steps] > 0.5
    union = int((a | b).sum())
    return float((a & b).sum()) / union if union else float("nan")


def cut_bar_lines(downbeats_s: np.ndarray, cuts_s: np.ndarray, tolerance_s: float = 0.1) -> np.ndarray:
    """Indices of the inner bar lines (1 .. bars - 1) that lie within ``tolerance_s`` of a cut."""
    downbeats_s = np.asarray(downbeats_s, np.float64)
    lines = []
    for cut in np.asarray(cuts_s, np.float64):
        nearest = int(np.argmin(np.abs(downbeats_s - cut)))
        if 0 < nearest < len(downbeats_s) - 1 and abs(downbeats_s[nearest] - cut) <= tolerance_s:
            lines.append(nearest)
    return np.asarray(sorted(set(lines)), dtype=np.int64)


def cut_novelty_rank(roll: np.ndarray, cut_lines: np.ndarray, context_bars: int = 2) -> float:
    """How the music's novelty at cut bar lines ranks among all its inner bar lines.

    Novelty is :func:`~diffbgm.evaluation.adherence.bar_novelty` (the distance between the
    ``context_bars`` bars before and after a bar line, in pitch-class, density, register and onset
    pattern). The rank is the share of (cut, other) pairs of inner bar lines where the cut's novelty is
    higher, ties counting half (the area under the ROC curve, Mann-Whitney U / n1 n2): 0.5 = cuts
    change the music no more than other bar lines, 1 = every cut more than every other bar line.

    Returns
    -------
    float
        In [0, 1]; NaN without a cut line or without another inner bar line.
    """
    novelty = bar_novelty(roll[ONSET], context_bars)
    inner = np.arange(1, len(novelty))
    is_cut = np.isin(inner, cut_lines)
    at_cuts, elsewhere = novelty[inner[is_cut]], novelty[inner[~is_cut]]
    if not len(at_cuts) or not len(elsewhere):
        return float("nan")
    higher = (at_cuts[:, None] > elsewhere[None, :]).sum() + 0.5 * (at_cuts[:, None] == elsewhere[None, :]).sum()
    return float(higher / (len(at_cuts) * len(elsewhere)))


def near_events(times_s: np.ndarray, events_s: np.ndarray, window_s: float) -> np.ndarray:
    """Boolean per time: within ``window_s`` seconds (either side) of any event."""
    times_s, events_s = np.asarray(times_s, np.float64), np.asarray(events_s, np.float64)
    if not len(events_s):
        return np.zeros(len(times_s), dtype=bool)
    return (np.abs(times_s[:, None] - events_s[None, :]) <= window_s).any(axis=1)


def time_near_events(events_s: np.ndarray, window_s: float, start_s: float, end_s: float) -> float:
    """Seconds of ``[start_s, end_s]`` within ``window_s`` of any event (overlapping spans counted once)."""
    covered, reach = 0.0, start_s
    for event in np.sort(np.asarray(events_s, np.float64)):
        low, high = max(event - window_s, reach, start_s), min(event + window_s, end_s)
        if high > low:
            covered += high - low
            reach = high
    return covered
