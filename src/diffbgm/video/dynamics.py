"""Per-frame dynamic features of a video: motion, motion saliency, colour and light, cuts.

These drive the dynamic condition stream (how busy and loud the music is where); they are computed
frame by frame as the analysis frames stream past, then the few that need a look around (saliency
peaks) are finished on the whole curve, which is tiny.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from scipy.ndimage import median_filter

FEATURE_NAMES = (
    "motion",  # mean optical-flow speed, in frame widths per second
    "difference",  # mean absolute grey change from the previous frame, 0..1
    "saliency",  # frame-difference peaks above their local median, 0..1
    "brightness",  # mean luma, 0..1
    "saturation",  # mean HSV saturation, 0..1
    "colourfulness",  # Hasler & Suesstrunk (2003) colourfulness M / 150, clipped to 0..1
    "warmth",  # mean (R - B) / 255, -1 (blue) .. 1 (red/orange)
    "cut",  # 1 on the first frame of every shot but the first, else 0
)

# DIS optical flow (Kroeger et al., "Fast Optical Flow using Dense Inverse Search", ECCV 2016): its
# coarse-to-fine patch search follows the large shifts between analysis frames (a fast pan moves tens of
# pixels from one to the next), where Farneback's flow (3 levels, 15-px window) stopped growing at about
# 5 px a frame, so that a fast pan read slower than a medium one.
_FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
# DIS refuses frames under 12 px a side and crashed on 8-px and 12-px high strips: narrower frames are
# stretched to this many pixels (motion is measured in frame widths, so a stretched height barely counts).
MIN_FLOW_SIDE = 32


def colour_stats(rgb: np.ndarray) -> dict[str, float]:
    """Brightness, saturation, colourfulness and warmth of one RGB uint8 frame."""
    pixels = rgb.reshape(-1, 3).astype(np.float32)
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    saturation = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)[..., 1]
    # Hasler & Suesstrunk, "Measuring colourfulness in natural images", SPIE 2003, eq. (3).
    rg = r - g
    yb = 0.5 * (r + g) - b
    colourfulness = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
    return {
        "brightness": float(luma.mean() / 255.0),
        "saturation": float(saturation.mean() / 255.0),
        # M = 109 is "extremely colourful" on their scale (table 2); M / 150 keeps 0..1 for real footage.
        "colourfulness": float(min(colourfulness / 150.0, 1.0)),
        "warmth": float((r - b).mean() / 255.0),
    }


class DynamicsExtractor:
    """Stream frames through :meth:`push`; :meth:`finish` returns every feature as (N,) float32.

    Parameters
    ----------
    fps : the analysis rate the frames come at (motion is per second of video).
    flow_width : frames are shrunk to this width (grey) for the optical flow and frame difference.
    saliency_window_s : the window of the running median that saliency peaks stand out from.
    """

    def __init__(self, fps: float, flow_width: int = 128, saliency_window_s: float = 2.0):
        self.fps = float(fps)
        self.flow_width = int(flow_width)
        self.saliency_window_s = float(saliency_window_s)
        self._previous: np.ndarray | None = None
        self._flow = cv2.DISOpticalFlow_create(_FLOW_PRESET)
        self._rows: dict[str, list[float]] = {name: [] for name in FEATURE_NAMES if name not in ("saliency", "cut")}

    def push(self, rgb: np.ndarray) -> None:
        """Add the next analysis frame (H, W, 3) RGB uint8."""
        height, width = rgb.shape[:2]
        small_width = min(width, self.flow_width)
        small_size = (max(MIN_FLOW_SIDE, small_width), max(MIN_FLOW_SIDE, round(height * small_width / width)))
        small = rgb if small_size == (width, height) else cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        for name, value in colour_stats(small).items():
            self._rows[name].append(value)
        if self._previous is None or self._previous.shape != grey.shape:
            motion, difference = 0.0, 0.0
        else:
            flow = self._flow.calc(self._previous, grey, None)
            speed = np.hypot(flow[..., 0], flow[..., 1]).mean()
            motion = float(speed / grey.shape[1] * self.fps)
            difference = float(cv2.absdiff(self._previous, grey).mean() / 255.0)
        self._rows["motion"].append(motion)
        self._rows["difference"].append(difference)
        self._previous = grey

    def finish(self) -> dict[str, np.ndarray]:
        """Every feature but ``cut`` (see :func:`mark_cuts`), each (N,) float32."""
        features = {name: np.asarray(values, np.float32) for name, values in self._rows.items()}
        difference = features["difference"]
        if len(difference):
            window = max(3, int(round(self.saliency_window_s * self.fps)) | 1)
            baseline = median_filter(difference, size=window, mode="nearest")
            features["saliency"] = np.clip(difference - baseline, 0.0, 1.0).astype(np.float32)
        else:
            features["saliency"] = difference.copy()
        return features


def mark_cuts(features: dict[str, np.ndarray], cut_indices: Sequence[int] | np.ndarray) -> dict[str, np.ndarray]:
    """Add the ``cut`` flag (1 on the frames in ``cut_indices``) and return the features in
    ``FEATURE_NAMES`` order. Motion measured across a cut matches two unrelated pictures, so a cut
    frame takes the motion of the next frame of its own shot instead."""
    n = len(features["motion"])
    indices = np.asarray(cut_indices, int)
    indices = indices[(indices > 0) & (indices < n)]
    cut = np.zeros(n, np.float32)
    cut[indices] = 1.0
    motion = features["motion"].copy()
    for i in indices:
        motion[i] = motion[i + 1] if i + 1 < n and not cut[i + 1] else 0.0
    marked = {**features, "motion": motion, "cut": cut}
    return {name: marked[name] for name in FEATURE_NAMES}
