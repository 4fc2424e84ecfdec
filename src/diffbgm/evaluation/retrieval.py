"""Retrieval precision P@K, the paper's measure of how well generated music matches its video.

Diff-BGM embeds generated and ground-truth audio, and for each generated piece ranks its own ground
truth among 60 candidates (itself plus 59 others); P@K is the share of pieces whose ground truth lands in
the top K. Without an audio tagger offline we embed symbolically (:func:`symbolic_embedding`): per-beat
onset density and mean pitch (what the conditions ask for) and the pitch-class histogram (harmony),
each z-scored so that no part dominates.
"""

from __future__ import annotations

import numpy as np

from diffbgm.evaluation.adherence import onsets_per_beat
from diffbgm.music.grid import STEPS_PER_BEAT


def symbolic_embedding(roll: np.ndarray) -> np.ndarray:
    """Embed an 8-bar piano-roll array ``(2, steps, 128)`` into a unit vector.

    Returns
    -------
    ndarray, shape (2 * beats + 12,)
    """
    onset, sustain = roll[0] > 0.5, roll[1] > 0.5
    sounding = onset | sustain
    beats = onset.shape[0] // STEPS_PER_BEAT
    density = onsets_per_beat(onset)
    pitches = np.arange(onset.shape[1])
    per_beat = sounding[: beats * STEPS_PER_BEAT].reshape(beats, STEPS_PER_BEAT, -1).sum(axis=1)
    total = per_beat.sum(axis=1)
    mean_pitch = np.where(total > 0, (per_beat * pitches).sum(axis=1) / np.maximum(total, 1), 0.0)
    histogram = np.bincount(pitches % 12, weights=onset.sum(axis=0), minlength=12)
    parts = [density, mean_pitch, histogram]
    vector = np.concatenate([(p - p.mean()) / (p.std() + 1e-6) for p in parts])
    return vector / (np.linalg.norm(vector) + 1e-12)


def precision_at_k(
    generated: np.ndarray,
    reference: np.ndarray,
    ks: tuple[int, ...] = (1, 5, 10, 20),
    n_candidates: int = 60,
    seed: int = 0,
) -> dict[int, float]:
    """P@K of retrieving each generated item's own reference among ``n_candidates``.

    Parameters
    ----------
    generated, reference : ndarray, shape (n, dim)
        Row ``i`` of ``generated`` was generated from the conditions of row ``i`` of ``reference``.
    ks : tuple of int
    n_candidates : int
        Candidates per query: the true reference plus ``n_candidates - 1`` others drawn at random
        (all others when ``n <= n_candidates``).
    seed : int
        Seed of the draw of the other candidates.

    Returns
    -------
    dict
        K -> share of queries whose reference ranks within the top K by cosine similarity.
    """
    n = len(generated)
    if n != len(reference) or n < 2:
        raise ValueError("generated and reference must pair up, with at least two items")
    rng = np.random.default_rng(seed)
    g = generated / (np.linalg.norm(generated, axis=1, keepdims=True) + 1e-12)
    r = reference / (np.linalg.norm(reference, axis=1, keepdims=True) + 1e-12)
    ranks = np.empty(n, dtype=int)
    for i in range(n):
        others = np.delete(np.arange(n), i)
        if len(others) > n_candidates - 1:
            others = rng.choice(others, n_candidates - 1, replace=False)
        candidates = np.concatenate([[i], others])
        scores = r[candidates] @ g[i]
        # Ties count against the query: its reference ranks after every candidate scoring the same.
        ranks[i] = int((scores[1:] >= scores[0]).sum())
    return {k: float(np.mean(ranks < k)) for k in ks}
