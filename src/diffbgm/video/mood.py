"""Mood of a shot, from its pictures.

The video side of the shared valence-arousal vocabulary in :mod:`diffbgm.music.mood`: a shot's mood is
read from its colour, brightness, motion and cutting pace (a documented heuristic, not a learned
model). The user's words are read by :mod:`diffbgm.conditions.user_text`.

Shot statistics (``stats`` below) are shot means of the analysis features, with these ranges:

- ``brightness``: mean luma, 0 (black) .. 1 (white)
- ``saturation`` and/or ``colourfulness``: 0 (grey) .. 1 (vivid); the mean of those present is used
- ``warmth``: -1 (blue/cool) .. 0 (neutral) .. 1 (red-orange/warm)
- ``motion``: 0 (still) .. 1 (very fast)
- ``cut_rate``: cuts per second around the shot (optional, default 0)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from diffbgm.music.mood import Mood
# A cut every two seconds already reads as fast editing; faster cutting adds no more arousal.
_FAST_CUT_RATE = 0.5
# The picture is a weak cue for valence: ordinary daylight footage (a muted street, a face in a car)
# lands a little below zero, and the key's mode follows the sign of valence
# (:data:`diffbgm.music.mood.MINOR_BELOW_VALENCE`), so every real clip was scored in minor. A
# deviation this small reads as neutral; the rest of the scale is kept (docs/mood.md).
NEUTRAL_VALENCE = 0.2


def colour_amount(stats: Mapping[str, float]) -> float:
    """Mean of ``saturation`` and ``colourfulness`` (whichever are given), 0..1."""
    values = [float(stats[k]) for k in ("saturation", "colourfulness") if k in stats]
    if not values:
        raise KeyError("shot statistics need 'saturation' or 'colourfulness'")
    return float(np.mean(values))


def mood_for_shot(stats: Mapping[str, float]) -> Mood:
    """Place a shot on the valence-arousal plane from its picture statistics.

    Valence grows with brightness, warmth and colour (bright, warm, vivid pictures read happier;
    dark, cold, grey ones sadder), with a neutral band around zero (``NEUTRAL_VALENCE``); arousal
    grows with motion, cutting pace and colour (still, uncut, muted footage reads calm). Weights are hand-set so that typical footage spans the plane;
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
    raw_valence = 1.2 * (brightness - 0.45) + 0.6 * warmth + 0.6 * (colour - 0.3)
    valence = np.sign(raw_valence) * max(abs(raw_valence) - NEUTRAL_VALENCE, 0.0) / (1.0 - NEUTRAL_VALENCE)
    arousal = -0.6 + 1.4 * motion + 1.0 * cut_pace + 0.4 * colour
    return Mood(float(np.clip(valence, -1.0, 1.0)), float(np.clip(arousal, -1.0, 1.0)))
