"""Control adherence: does the generated music follow the conditions it was asked for?

Two measures of our own (the paper has none): the rank correlation between requested and generated
per-beat note density, and the share of requested segment boundaries (phrases at training, shots at
inference) at which the generated music starts something new.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from diffbgm.music.grid import STEPS_PER_BEAT


def onsets_per_beat(onset: np.ndarray) -> np.ndarray:
    """Count note onsets in each beat of an onset roll.

    Parameters
    ----------
    onset : ndarray, shape (steps, pitches)
        Binary onset channel of a piano roll; ``steps`` a multiple of ``STEPS_PER_BEAT``.

    Returns
    -------
    ndarray, shape (steps // STEPS_PER_BEAT,)
    """
    steps = onset.shape[0] - onset.shape[0] % STEPS_PER_BEAT
    per_step = (onset[:steps] > 0.5).sum(axis=1)
    return per_step.reshape(-1, STEPS_PER_BEAT).sum(axis=1).astype(np.float64)


def density_correlation(requested: np.ndarray, generated_onset: np.ndarray) -> float:
    """Spearman correlation between requested per-beat density and generated onsets per beat.

    Parameters
    ----------
    requested : ndarray, shape (beats,)
        The density condition per beat (any monotone scale).
    generated_onset : ndarray, shape (beats * STEPS_PER_BEAT, pitches)

    Returns
    -------
    float
        Spearman's rho in [-1, 1]; ``nan`` when either side is constant.
    """
    generated = onsets_per_beat(generated_onset)
    n = min(len(requested), len(generated))
    if n < 3 or np.ptp(requested[:n]) == 0 or np.ptp(generated[:n]) == 0:
        return float("nan")
    return float(spearmanr(requested[:n], generated[:n]).statistic)


def boundary_hit_rate(
    boundaries: np.ndarray, generated_onset: np.ndarray, tolerance_beats: int = 0, jump: float = 1.5
) -> float:
    """Share of requested boundaries where the generated music starts something new.

    A beat "starts something new" when its onset count is at least ``jump`` times the mean of the two
    beats before it, or when the pitch classes struck in it differ from the previous beat's by a
    Jaccard distance above 0.5. Boundaries at beat 0 are ignored (nothing precedes them).

    Parameters
    ----------
    boundaries : ndarray, shape (beats,)
        1 on the first beat of a requested segment.
    generated_onset : ndarray, shape (beats * STEPS_PER_BEAT, pitches)
    tolerance_beats : int
        A hit may fall this many beats after the boundary.
    jump : float
        Onset-count ratio that counts as a new start.

    Returns
    -------
    float
        Hit share in [0, 1]; ``nan`` when no boundary past beat 0 is requested.
    """
    novelty = beat_novelty(generated_onset, jump)
    targets = [b for b in np.flatnonzero(np.asarray(boundaries) > 0.5) if b > 0 and b < len(novelty)]
    if not targets:
        return float("nan")
    hits = [novelty[b : b + tolerance_beats + 1].any() for b in targets]
    return float(np.mean(hits))


def beat_novelty(generated_onset: np.ndarray, jump: float = 1.5) -> np.ndarray:
    """Boolean per beat: does the beat start something new (see :func:`boundary_hit_rate`)."""
    counts = onsets_per_beat(generated_onset)
    beats = len(counts)
    steps = beats * STEPS_PER_BEAT
    classes = (generated_onset[:steps] > 0.5).reshape(beats, STEPS_PER_BEAT, -1).any(axis=1)
    pitch_classes = np.zeros((beats, 12), dtype=bool)
    for pc in range(12):
        pitch_classes[:, pc] = classes[:, pc::12].any(axis=1)
    novelty = np.zeros(beats, dtype=bool)
    for b in range(1, beats):
        before = counts[max(0, b - 2) : b].mean()
        louder = counts[b] >= jump * max(before, 1e-9) and counts[b] > 0
        union = (pitch_classes[b] | pitch_classes[b - 1]).sum()
        changed = union > 0 and 1.0 - (pitch_classes[b] & pitch_classes[b - 1]).sum() / union > 0.5
        novelty[b] = louder or changed
    return novelty
