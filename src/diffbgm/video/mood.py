"""Mood of a shot, from its pictures or from the user's words.

The video side of the shared valence-arousal vocabulary in :mod:`diffbgm.conditions.mood`: a shot's
mood is read from its colour, brightness, motion and cutting pace (a documented heuristic, not a
learned model), or from words the user typed, which are mapped onto ``MOOD_WORDS``.

Shot statistics (``stats`` below) are shot means of the analysis features, with these ranges:

- ``brightness``: mean luma, 0 (black) .. 1 (white)
- ``saturation`` and/or ``colourfulness``: 0 (grey) .. 1 (vivid); the mean of those present is used
- ``warmth``: -1 (blue/cool) .. 0 (neutral) .. 1 (red-orange/warm)
- ``motion``: 0 (still) .. 1 (very fast)
- ``cut_rate``: cuts per second around the shot (optional, default 0)
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from diffbgm.conditions.mood import MOOD_WORDS, Mood, mood_from_words
from diffbgm.conditions.text import SentenceEmbedder

# Phrases and mood words are embedded inside the same short template: bare single words embed
# noisily with MiniLM (e.g. "melancholy" lands on "nostalgic"), "a melancholy mood" lands on "sad".
_MOOD_TEMPLATE = "a {} mood"
# A cut every two seconds already reads as fast editing; faster cutting adds no more arousal.
_FAST_CUT_RATE = 0.5


def colour_amount(stats: Mapping[str, float]) -> float:
    """Mean of ``saturation`` and ``colourfulness`` (whichever are given), 0..1."""
    values = [float(stats[k]) for k in ("saturation", "colourfulness") if k in stats]
    if not values:
        raise KeyError("shot statistics need 'saturation' or 'colourfulness'")
    return float(np.mean(values))


def mood_for_shot(stats: Mapping[str, float]) -> Mood:
    """Place a shot on the valence-arousal plane from its picture statistics.

    Valence grows with brightness, warmth and colour (bright, warm, vivid pictures read happier;
    dark, cold, grey ones sadder); arousal grows with motion, cutting pace and colour (still,
    uncut, muted footage reads calm). Weights are hand-set so that typical footage spans the plane;
    both coordinates are clipped to [-1, 1].

    Parameters
    ----------
    stats:
        Shot statistics with the keys and ranges listed in the module docstring.
    """
    for key in ("brightness", "warmth", "motion"):
        if key not in stats:
            raise KeyError(f"shot statistics need {key!r}")
    colour = colour_amount(stats)
    brightness = float(stats["brightness"])
    warmth = float(stats["warmth"])
    motion = float(stats["motion"])
    cut_pace = min(float(stats.get("cut_rate", 0.0)) / _FAST_CUT_RATE, 1.0)
    valence = 1.2 * (brightness - 0.45) + 0.6 * warmth + 0.6 * (colour - 0.3)
    arousal = -0.6 + 1.4 * motion + 1.0 * cut_pace + 0.4 * colour
    return Mood(float(np.clip(valence, -1.0, 1.0)), float(np.clip(arousal, -1.0, 1.0)))


def split_phrases(text: str) -> list[str]:
    """Split free text into mood phrases at commas, semicolons, slashes, newlines and "and"."""
    parts = re.split(r"[,;/\n]|\band\b", text.lower())
    return [" ".join(part.split()) for part in parts if part.strip()]


def mood_words_from_text(text: str, embedder: SentenceEmbedder) -> list[str]:
    """Map the user's words onto ``MOOD_WORDS``, one word per phrase.

    A phrase that contains known mood words contributes those words; any other phrase contributes
    the mood word whose sentence embedding is most similar (cosine) to the phrase's, both embedded
    in the template ``"a {} mood"``.
    """
    phrases = split_phrases(text)
    if not phrases:
        raise ValueError("mood text is empty; give words such as 'calm, warm'")
    words: list[str] = []
    unknown: list[str] = []
    for phrase in phrases:
        exact = [w for w in re.findall(r"[a-z]+", phrase) if w in MOOD_WORDS]
        if exact:
            words.extend(exact)
        else:
            unknown.append(phrase)
    if unknown:
        vocabulary = list(MOOD_WORDS)
        # Embeddings are unit vectors, so the dot product is the cosine similarity.
        phrases_emb = embedder.embed([_MOOD_TEMPLATE.format(p) for p in unknown])
        vocabulary_emb = embedder.embed([_MOOD_TEMPLATE.format(w) for w in vocabulary])
        similarity = phrases_emb @ vocabulary_emb.T
        words.extend(vocabulary[i] for i in similarity.argmax(axis=1))
    return words


def mood_from_text(text: str, embedder: SentenceEmbedder) -> Mood:
    """The mean mood of the words in ``text`` (e.g. ``"calm, warm"``), see :func:`mood_words_from_text`."""
    return mood_from_words(mood_words_from_text(text, embedder))
