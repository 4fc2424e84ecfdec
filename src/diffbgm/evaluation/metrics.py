"""Objective music metrics: pure functions over notes timed in beats.

- PCHE, pitch-class histogram entropy, as the Diff-BGM evaluation notebook: a 12-bin histogram of note
  onsets per 8-bar (32-beat) window, entropy in bits, mean over windows (then over files).
- GPS, grooving pattern similarity (Wu & Yang, "The Jazz Transformer", 2020): per-bar binary onset
  patterns; similarity of two bars = 1 - XOR count / positions, averaged over all pairs of non-empty bars.
- SI, structureness indicator (MusDr, Wu & Yang 2020): the maximum fitness, over segments of 3-8 bars
  (MusDr's SI_short range), in the fitness scape plot of a per-bar chroma self-similarity matrix.
- Simple statistics: notes per bar, pitch range, polyphony, in-key ratio (Krumhansl-Kessler key
  estimate), empty-bar ratio.

Bars are 4 beats from beat 0 (the project's 4/4 grid).
"""

from __future__ import annotations

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR
from diffbgm.music.key import Key, estimate_key
from diffbgm.music.notes import BeatNotes

PCHE_WINDOW_BEATS = 32
SI_MIN_BARS, SI_MAX_BARS = 3, 8

def entropy_bits(histogram: np.ndarray) -> float:
    """Shannon entropy (log2) of a non-negative histogram; 0 for an empty one."""
    total = histogram.sum()
    if total <= 0:
        return 0.0
    p = histogram[histogram > 0] / total
    return float(-(p * np.log2(p)).sum())


def pitch_class_entropy(notes: BeatNotes, window_beats: int = PCHE_WINDOW_BEATS) -> float:
    """PCHE: mean over ``window_beats`` windows (with notes) of the onset pitch-class entropy in bits."""
    if len(notes) == 0:
        return float("nan")
    window = (notes.start // window_beats).astype(np.int64)
    values = [entropy_bits(np.bincount(notes.pitch[window == w] % 12, minlength=12)) for w in np.unique(window)]
    return float(np.mean(values))


def bar_onset_patterns(notes: BeatNotes, positions: int = 16) -> np.ndarray:
    """bool ``(n_bars, positions)``: which of the bar's evenly spaced positions have an onset."""
    patterns = np.zeros((notes.n_bars(), positions), dtype=bool)
    slot = np.round(notes.start / BEATS_PER_BAR * positions).astype(np.int64)
    bar, position = slot // positions, slot % positions
    keep = bar < len(patterns)
    patterns[bar[keep], position[keep]] = True
    return patterns


def grooving_pattern_similarity(notes: BeatNotes, positions: int = 16) -> float:
    """GPS: mean over all pairs of non-empty bars of ``1 - XOR(pattern_i, pattern_j) / positions``."""
    patterns = bar_onset_patterns(notes, positions)
    patterns = patterns[patterns.any(axis=1)]
    if len(patterns) < 2:
        return float("nan")
    p = patterns.astype(np.int64)
    xor = p.sum(1)[:, None] + p.sum(1)[None, :] - 2 * p @ p.T
    upper = np.triu_indices(len(p), k=1)
    return float(np.mean(1.0 - xor[upper] / positions))


def bar_chroma(notes: BeatNotes) -> np.ndarray:
    """float ``(n_bars, 12)``: beats each pitch class sounds in each bar."""
    n_bars = int(np.ceil(notes.end.max() / BEATS_PER_BAR)) if len(notes) else 0
    chroma = np.zeros((n_bars, 12))
    for pitch, start, end in zip(notes.pitch, notes.start, notes.end):
        first, last = int(start // BEATS_PER_BAR), int(np.ceil(end / BEATS_PER_BAR))
        for bar in range(first, min(last, n_bars)):
            overlap = min(end, (bar + 1) * BEATS_PER_BAR) - max(start, bar * BEATS_PER_BAR)
            chroma[bar, pitch % 12] += max(overlap, 0.0)
    return chroma


def self_similarity(features: np.ndarray) -> np.ndarray:
    """Cosine self-similarity matrix in [0, 1] (rows of zeros are similar to nothing)."""
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    unit = np.divide(features, norms, out=np.zeros_like(features, dtype=np.float64), where=norms > 0)
    return np.clip(unit @ unit.T, 0.0, 1.0)


def segment_fitness(ssm: np.ndarray, start: int, length: int) -> float:
    """Fitness of segment ``[start, start + length)`` (after Müller, "Fundamentals of Music Processing", 4.3).

    The path family is the segment's diagonal repetitions: windows ``[t, t + length)`` that do not
    overlap an already chosen one, taken greedily by mean diagonal similarity (the grid is already
    beat-synchronous, so the warping paths of the audio method reduce to diagonals). Score: summed
    similarity of the repetitions other than the segment itself, over the total; coverage: bars they
    cover beyond the segment, over all bars. Fitness is their harmonic mean.
    """
    n = len(ssm)
    if n < 2 * length:
        return 0.0
    k = np.arange(length)
    diag = np.array([ssm[start + k, t + k].mean() for t in range(n - length + 1)])
    chosen, covered = [], np.zeros(n, dtype=bool)
    covered[start : start + length] = True
    for t in np.argsort(-diag, kind="stable"):
        if diag[t] <= 0:
            break
        if not covered[t : t + length].any():
            chosen.append(t)
            covered[t : t + length] = True
    if not chosen:
        return 0.0
    score = diag[chosen].sum() * length / n
    coverage = (len(chosen) * length) / n
    return float(2 * score * coverage / (score + coverage)) if score + coverage > 0 else 0.0


def structureness_indicator(notes: BeatNotes, min_bars: int = SI_MIN_BARS, max_bars: int = SI_MAX_BARS) -> float:
    """SI: max segment fitness over lengths ``min_bars..max_bars`` of the per-bar chroma self-similarity."""
    if len(notes) == 0:
        return float("nan")
    ssm = self_similarity(bar_chroma(notes))
    best = 0.0
    for length in range(min_bars, max_bars + 1):
        for start in range(len(ssm) - length + 1):
            best = max(best, segment_fitness(ssm, start, length))
    return best


def in_key_ratio(notes: BeatNotes) -> float:
    """Fraction of notes whose pitch class is in the scale of the estimated key."""
    if len(notes) == 0:
        return float("nan")
    scale = Key(*estimate_key(notes)).scale
    return float(np.mean([p % 12 in scale for p in notes.pitch]))


def notes_per_bar(notes: BeatNotes) -> float:
    """Mean number of onsets per bar (up to the last onset)."""
    return float(len(notes) / notes.n_bars()) if len(notes) else 0.0


def pitch_range(notes: BeatNotes) -> float:
    """Highest minus lowest pitch."""
    return float(notes.pitch.max() - notes.pitch.min()) if len(notes) else 0.0


def polyphony(notes: BeatNotes, step_beats: float = 0.25) -> float:
    """Mean number of sounding notes over the sixteenth steps where at least one sounds."""
    if len(notes) == 0:
        return 0.0
    first = np.round(notes.start / step_beats).astype(np.int64)
    last = np.maximum(np.round(notes.end / step_beats).astype(np.int64), first + 1)
    counts = np.zeros(int(last.max()) + 1)
    np.add.at(counts, first, 1)
    np.add.at(counts, last, -1)
    sounding = np.cumsum(counts)[:-1]
    return float(sounding[sounding > 0].mean())


def empty_bar_ratio(notes: BeatNotes) -> float:
    """Fraction of bars (up to the last onset) without any onset."""
    if len(notes) == 0:
        return 1.0
    patterns = bar_onset_patterns(notes)
    return float(1.0 - patterns.any(axis=1).mean())


def all_metrics(notes: BeatNotes, gps_positions: int = 16) -> dict[str, float]:
    """Every metric of one piece, by name."""
    return {
        "pche": pitch_class_entropy(notes),
        "gps": grooving_pattern_similarity(notes, gps_positions),
        "si": structureness_indicator(notes),
        "notes_per_bar": notes_per_bar(notes),
        "pitch_range": pitch_range(notes),
        "polyphony": polyphony(notes),
        "in_key_ratio": in_key_ratio(notes),
        "empty_bar_ratio": empty_bar_ratio(notes),
    }
