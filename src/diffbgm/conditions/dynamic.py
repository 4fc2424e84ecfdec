"""The dynamic condition stream: per-beat features that both music and video can supply.

Diff-BGM feeds the denoiser visual features at low noise; without paired video we train on features
computed from the music and, at inference, compute the same named features from the video:

    density   note onsets per beat                        <-> motion magnitude
    strength  accent: onset velocity x simultaneity       <-> saliency / frame-difference peaks, cuts
    register  mean sounding pitch                         <-> brightness
    boundary  first beat of a phrase                      <-> first beat of a shot

Every feature lies in [0, 1]. ``TYPICAL_RANGE`` gives the 10th and 90th percentiles over POP909 train
windows; video curves are mapped onto that range so that inference conditions look like training ones.
"""

from __future__ import annotations

import numpy as np

DYNAMIC_FEATURES: tuple[str, ...] = ("density", "strength", "register", "boundary")
DYNAMIC_DIM = len(DYNAMIC_FEATURES)

# 10th / 90th percentile of each feature over POP909 train windows (set from the built data set).
TYPICAL_RANGE: dict[str, tuple[float, float]] = {
    "density": (0.17, 0.67),
    "strength": (0.18, 0.6),
    "register": (0.41, 0.64),
    "boundary": (0.0, 1.0),
}


# The pitches register 0 and 1 stand for (MIDI): the mean sounding pitch, mapped linearly.
REGISTER_LOW_PITCH, REGISTER_HIGH_PITCH = 36.0, 84.0


def dynamic_from_attributes(attributes: dict[str, np.ndarray]) -> np.ndarray:
    """Per-beat music attributes (``diffbgm.music.window.ATTRIBUTE_NAMES``) -> float32 ``(beats, 4)``."""
    # Scales put POP909's 99th percentile (12 onsets per beat, strength 3.9) near 1.
    density = np.clip(attributes["onset_density"] / 12.0, 0.0, 1.0)
    strength = np.clip(attributes["onset_strength"] / 4.0, 0.0, 1.0)
    sounding = attributes["pitch_mean"] > 0
    span = REGISTER_HIGH_PITCH - REGISTER_LOW_PITCH
    register = np.where(sounding, np.clip((attributes["pitch_mean"] - REGISTER_LOW_PITCH) / span, 0.0, 1.0), 0.0)
    boundary = (attributes["phrase_boundary"] > 0.5).astype(np.float32)
    return np.stack([density, strength, register, boundary], axis=-1).astype(np.float32)
