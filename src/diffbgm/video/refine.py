"""Place a cut found on the coarse analysis grid on its exact source frame, and vet it.

The grid (8 frames a second by default) only says that a cut happened between two grid points; the
source frames between them, scored as the analysis decodes them
(:class:`diffbgm.video.source_changes.SourceChanges`), say which. The change between consecutive
source frames is PySceneDetect's content score (mean hue, saturation and luma differences, with our
weights). A hard cut is one frame whose change
stands far above the window's typical change, which is the rule of PySceneDetect's
``AdaptiveDetector`` (made so that camera motion is not a cut) applied at the source frame rate,
where a pan's changes are even and a cut's is a single spike. A spike whose picture comes back
within a fraction of a beat is a flash (an accent, not a cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from diffbgm.video.shots import CONTENT_WEIGHTS

# A cut's change must exceed the window's median change by this factor and be at least this large
# (its min_content_val: 15; ours is lower as our hue weight is higher and a hue-only cut must pass).
# AdaptiveDetector uses 3.0; a real cut at the end of a fast pan (bikes.mp4 at 3.04 s, filled into a
# 16:9 frame) stands 2.9 times above the pan's changes, and no continuous shot of the corpora (pans,
# zooms, shake, riders passing close, a running cartoon) reaches 2.5 (docs/sync.md).
SPIKE_RATIO = 2.5
MIN_CUT_SCORE = 12.0
# A picture that returns within this long after a spike was a flash (or a shot too short to score).
FLASH_S = 0.3
# Saturation (0..255) below which a pixel is grey and its hue meaningless, and value below which it
# is dark and its saturation meaningless.
_GREY_SATURATION = 32
_DARK_VALUE = 32


@dataclass(frozen=True)
class EditEvent:
    """``kind`` is "cut" (a new shot starts at ``time_s``) or "accent" (a flash or a blink of a shot)."""

    kind: str
    time_s: float


def hsv_of(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)


def content_score(a_hsv: np.ndarray, b_hsv: np.ndarray) -> float:
    """PySceneDetect's content value between two HSV frames, with :data:`CONTENT_WEIGHTS`, except
    that hue counts only where both pixels have colour and saturation only where both have light:
    the hue of a grey pixel and the saturation of a dark one are the encoder's noise (a grey or a
    night picture would otherwise change wildly from one frame, or one keyframe, to the next)."""
    weights = (CONTENT_WEIGHTS.delta_hue, CONTENT_WEIGHTS.delta_sat, CONTENT_WEIGHTS.delta_lum)
    lit = np.minimum(a_hsv[..., 2], b_hsv[..., 2]) >= _DARK_VALUE
    coloured = lit & (np.minimum(a_hsv[..., 1], b_hsv[..., 1]) >= _GREY_SATURATION)
    # OpenCV's 8-bit hue spans 0..179 in PySceneDetect; the FULL conversion spans 0..255, so scale back.
    delta_hue = float((np.abs(a_hsv[..., 0] - b_hsv[..., 0]) * coloured).mean()) * 180 / 256
    delta_sat = float((np.abs(a_hsv[..., 1] - b_hsv[..., 1]) * lit).mean())
    delta_lum = float(np.abs(a_hsv[..., 2] - b_hsv[..., 2]).mean())
    return float(np.dot((delta_hue, delta_sat, delta_lum), weights) / sum(weights))


# is_spike looks this many frames past the frame it tests.
SPIKE_CONTEXT = 7


def is_spike(scores: np.ndarray, j: int) -> bool:
    """Whether the change into frame ``j`` (``scores[j]``, from frame ``j - 1``; ``scores[0]`` has
    no frame before it) stands out from the changes on *both* sides of it: a camera that starts to
    move changes as much after that frame as at it."""
    before = scores[max(1, j - 6) : max(1, j - 1)]
    after = scores[j + 2 : j + SPIKE_CONTEXT + 1]
    baseline = max((float(np.median(side)) for side in (before, after) if len(side)), default=0.0)
    return bool(scores[j] >= max(MIN_CUT_SCORE, SPIKE_RATIO * baseline))


class FrameChanges(Protocol):
    """The source frames' times, the change into each (``scores[j]``, from frame ``j - 1``), and
    whether the picture after frame ``last`` is again the one before frame ``first``."""

    times: np.ndarray
    scores: np.ndarray

    def returns(self, first: int, last: int) -> bool: ...


def refine_cut(window: FrameChanges, low_s: float, high_s: float) -> EditEvent | None:
    """The cut (or flash) whose new frame is shown in ``(low_s, high_s]``; None when the biggest
    change there is no spike (camera motion, a gradual change)."""
    times = window.times
    region = np.arange(np.searchsorted(times, low_s + 1e-9, side="right"), np.searchsorted(times, high_s + 1e-9, side="right"))
    region = region[region >= 1]
    if len(region) == 0:
        return None
    j = int(region[np.argmax(window.scores[region])])
    if not is_spike(window.scores, j):
        return None
    # A flash: the spike goes out and comes back within FLASH_S (looked for on both sides of j).
    for last in range(j, len(times) - 1):
        if times[last + 1] - times[j] > FLASH_S:
            break
        if window.returns(j, last):
            return EditEvent("accent", float(times[j]))
    for k in range(j - 1, 0, -1):
        if times[j] - times[k] > FLASH_S:
            break
        if window.returns(k, j - 1):
            return EditEvent("accent", float(times[k]))
    return EditEvent("cut", float(times[j]))
