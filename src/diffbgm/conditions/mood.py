"""The semantic stream's text: a description of the mood and the music's pace, density and register.

At training time the description is built from the music (mode, tempo, note density, register); at
inference time from the video (a colour/brightness/motion heuristic, or the user's own words), through
the same :func:`describe`, so that the model sees the same kind of text on both sides. The mood
vocabulary itself is :mod:`diffbgm.music.mood`.
"""

from __future__ import annotations

from diffbgm.music.mood import Mood, bucket


def describe(mood: Mood, tempo_bpm: float, density: float, register: float) -> str:
    """The description whose sentence embedding is the semantic condition.

    Every argument here can be computed from music (training) and from video (inference).
    """
    first, second = mood.nearest_words(2)
    pace = bucket(tempo_bpm, (85.0, 115.0), ("slow", "moderate", "fast"))
    notes = bucket(density, (0.25, 0.5), ("sparse", "flowing", "busy"))
    pitch = bucket(register, (0.4, 0.6), ("low", "middle", "high"))
    return f"{first} and {second} piano music, {pace} tempo, {notes} notes in a {pitch} register"
