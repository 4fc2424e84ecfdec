"""Mood: the valence-arousal vocabulary shared by music (training) and video (inference).

Valence and arousal follow Russell's circumplex model; the word coordinates below are hand-placed, a
documented heuristic. Music is placed on the plane by :func:`mood_from_music`, a shot by
:func:`diffbgm.video.mood.mood_for_shot`, the user's words by :func:`mood_from_words`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# word -> (valence, arousal), both in [-1, 1].
MOOD_WORDS: dict[str, tuple[float, float]] = {
    "happy": (0.8, 0.5),
    "joyful": (0.9, 0.7),
    "playful": (0.6, 0.4),
    "energetic": (0.4, 0.9),
    "exciting": (0.5, 0.8),
    "epic": (0.2, 0.9),
    "tense": (-0.5, 0.7),
    "angry": (-0.8, 0.8),
    "dark": (-0.6, 0.2),
    "mysterious": (-0.2, 0.1),
    "sad": (-0.8, -0.4),
    "melancholic": (-0.6, -0.5),
    "lonely": (-0.6, -0.7),
    "nostalgic": (-0.1, -0.4),
    "calm": (0.3, -0.8),
    "peaceful": (0.5, -0.7),
    "gentle": (0.4, -0.5),
    "dreamy": (0.2, -0.4),
    "warm": (0.6, -0.2),
    "romantic": (0.7, 0.0),
    "hopeful": (0.6, 0.1),
    "bright": (0.8, 0.2),
}


@dataclass(frozen=True)
class Mood:
    """A point on the valence-arousal plane, each coordinate in [-1, 1]."""

    valence: float
    arousal: float

    def nearest_words(self, k: int = 2) -> list[str]:
        """The ``k`` mood words closest to this point, closest first."""
        words = list(MOOD_WORDS)
        points = np.array([MOOD_WORDS[w] for w in words])
        distance = np.hypot(points[:, 0] - self.valence, points[:, 1] - self.arousal)
        return [words[i] for i in np.argsort(distance, kind="stable")[:k]]


def mood_from_words(words: list[str]) -> Mood:
    """Mean position of known mood words (the caller maps free text onto ``MOOD_WORDS`` first)."""
    known = [MOOD_WORDS[w] for w in words if w in MOOD_WORDS]
    if not known:
        raise ValueError(f"no known mood word in {words!r}; known: {', '.join(MOOD_WORDS)}")
    valence, arousal = np.mean(known, axis=0)
    return Mood(float(valence), float(arousal))


def mood_from_music(mode: str, tempo_bpm: float, density: float, register: float) -> Mood:
    """Place a piece of music on the mood plane.

    ``density`` and ``register`` are the window means of the dynamic features (0..1, see
    :mod:`diffbgm.conditions.dynamic`). Major keys and a high register read happier; fast tempi and
    dense notes read more aroused.
    """
    valence = 0.6 * (1.0 if mode == "major" else -1.0) + 0.8 * (register - 0.5)
    arousal = 0.6 * np.clip((tempo_bpm - 100.0) / 40.0, -1.0, 1.0) + 1.2 * (density - 0.4)
    return Mood(float(np.clip(valence, -1, 1)), float(np.clip(arousal, -1, 1)))


def bucket(value: float, edges: tuple[float, float], words: tuple[str, str, str]) -> str:
    """The word for ``value``: below ``edges[0]``, between, or from ``edges[1]`` up."""
    return words[0] if value < edges[0] else words[2] if value >= edges[1] else words[1]


# Keys a pop piano score commonly sits in, by mode; the seed picks one (pitch classes, C = 0).
COMMON_TONICS = {"major": (0, 7, 2, 5, 10, 3, 9, 4), "minor": (9, 4, 2, 11, 0, 7, 6)}
# Valence below this reads as a minor-key mood ("sad", "dark", "tense", "nostalgic").
MINOR_BELOW_VALENCE = -0.05


def key_for_mood(mood: Mood, seed: int) -> tuple[int, str]:
    """A key for music of ``mood``: minor for negative valence, major otherwise, on a common tonic of that
    mode drawn from ``seed`` (tonic pitch class, mode)."""
    mode = "minor" if mood.valence < MINOR_BELOW_VALENCE else "major"
    tonics = COMMON_TONICS[mode]
    return tonics[int(np.random.default_rng([int(seed) & 0xFFFFFFFF, 0x6B6579]).integers(len(tonics)))], mode
