"""Baseline window generators for :func:`diffbgm.evaluation.model_eval.evaluate_generator`.

:func:`ground_truth_generator` (P@K must be 1), :func:`shuffled_generator` (another song's window: P@K
near chance, K/60) and :func:`density_matched_generator` (random notes following the requested density
and register: what adherence alone buys on P@K).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence

import numpy as np

from diffbgm.music.grid import N_PITCHES, ONSET, STEPS_PER_BEAT, SUSTAIN, WINDOW_STEPS
from diffbgm.music.key import Key
from diffbgm.music.window import MusicWindow

Generator = Callable[[list[MusicWindow]], np.ndarray]



def ground_truth_generator(windows: list[MusicWindow]) -> np.ndarray:
    """The windows' own piano rolls: the upper bound (P@K = 1)."""
    return np.stack([w.pianoroll for w in windows]).astype(np.float32)


def _window_rng(window: MusicWindow, seed: int) -> np.random.Generator:
    # Seeded by the window itself, so that the output does not depend on batching or order.
    return np.random.default_rng([seed, zlib.crc32(f"{window.song}:{window.bar}".encode())])


def shuffled_generator(pool: Sequence[MusicWindow], seed: int = 0) -> Generator:
    """A generator that answers each window with the roll of a window of *another* song from ``pool``.

    Real music that ignores the conditions: its P@K is near chance (K / candidates).
    """
    songs = np.array([w.song for w in pool])
    if len(set(songs.tolist())) < 2:
        raise ValueError("the shuffled baseline needs windows of at least two songs")

    def generate(windows: list[MusicWindow]) -> np.ndarray:
        rolls = []
        for window in windows:
            others = np.flatnonzero(songs != window.song)
            rolls.append(pool[int(_window_rng(window, seed).choice(others))].pianoroll)
        return np.stack(rolls).astype(np.float32)

    return generate


def density_matched_generator(windows: list[MusicWindow], seed: int = 0, follow_register: bool = False) -> np.ndarray:
    """Random notes that follow the requested per-beat onset count, and nothing else.

    Each beat gets the window's ``onset_density`` onsets (the raw count behind the dynamic density
    condition) at random steps of the beat, on random pitches of the window's key scale within a fifth
    of middle C, or of the requested mean pitch (``pitch_mean``, the register condition) with
    ``follow_register``; each note lasts 1-4 steps. No harmony, rhythm pattern or phrase structure: the
    P@K this reaches is what matching the dynamic conditions alone buys.
    """
    rolls = np.zeros((len(windows), 2, WINDOW_STEPS, N_PITCHES), dtype=np.float32)
    for roll, window in zip(rolls, windows):
        rng = _window_rng(window, seed)
        in_key = Key(window.key_tonic, window.key_mode).pitch_mask()
        counts = np.rint(window.attributes["onset_density"]).astype(int)
        for beat, count in enumerate(counts[: WINDOW_STEPS // STEPS_PER_BEAT]):
            requested = float(window.attributes["pitch_mean"][beat]) if follow_register else 0.0
            centre = requested or 60.0
            pitches = np.flatnonzero(in_key & (np.abs(np.arange(N_PITCHES) - centre) <= 7))
            for _ in range(count):
                step = beat * STEPS_PER_BEAT + int(rng.integers(STEPS_PER_BEAT))
                pitch = int(rng.choice(pitches))
                roll[ONSET, step, pitch] = 1.0
                roll[SUSTAIN, step + 1 : min(step + int(rng.integers(1, 5)), WINDOW_STEPS), pitch] = 1.0
        roll[SUSTAIN] *= 1.0 - roll[ONSET]
    return rolls
