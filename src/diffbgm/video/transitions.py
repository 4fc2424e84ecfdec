"""Gradual transitions on the analysis grid: fades to and from black, and cross-dissolves.

A fade multiplies the picture by a gain that ramps linearly to or from zero, so the mean luma of the
frames ramps with it; a cross-dissolve is a linear mix ``(1 - w) A + w B`` with ``w`` ramping from 0
to 1, so every frame inside it lies on the straight line between the last frame before it and the
first frame after it (Lienhart, "Reliable dissolve detection", SPIE 2001, models dissolves the same
way). Camera motion is no such mix: a frame of a pan is a shifted picture, far from the average of
two pictures shifted further, which is what keeps pans and zooms out (and an ECC alignment of the
frames around a candidate tells a camera move from a change of picture). Fitting the ramp ``w(t)``
on the frames inside a transition (the grid's, or every source frame's luma for fades) places its
start and end between grid points, on the source frames' own times.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from diffbgm.video.decode import StreamTiming

# Mean luma (0..255) below which a frame is black (PySceneDetect's threshold detector uses 12 on the
# mean pixel value), if its luma also varies less than BLACK_SPREAD: a night sky of bright stars is
# dark but no black, and the first frames of a fade in to it must not count as black either.
BLACK_LUMA = 10.0
BLACK_SPREAD = 8.0
# A grid point can fall a few source frames off a one-frame black: a dip this dark between two
# brighter sides is black the grid stepped over.
_DIP_LUMA = 32.0
# Two frames one warp apart (correlation of ECC alignment, Evangelidis & Psarakis, PAMI 2008) show
# one picture moved by the camera, not two pictures mixed.
SAME_PICTURE_CORRELATION = 0.9
# Tiny frames are enough to tell a mix from a shift and keep the per-frame cost negligible.
_MIX_WIDTH = 48
# A dissolve between two moving shots (riders into a running cartoon) is no mix of the frames around
# it at 48 px, where each side has moved on; at 8 px the motion is gone and the mix shows. Only pairs
# of ends that no warp aligns count (same_picture), as a pan is nearly a mix at that size too.
_COARSE_MIX_WIDTH = 8
# Neighbour distance (grid frames) of the mix test, and its limits: relative residual and the
# smallest mean change (0..255) between the two neighbours for the test to mean anything.
_MIX_STEP = 2
_MIX_RESIDUAL = 0.15
_MIX_MIN_CHANGE = 6.0
_LONGEST_RAMP_S = 3.0


@dataclass(frozen=True)
class Ramp:
    """A linear ramp of a transition: ``w`` = 0 at ``zero_s``, 1 at ``one_s`` (source times)."""

    zero_s: float
    one_s: float

    def at(self, w: float) -> float:
        return self.zero_s + w * (self.one_s - self.zero_s)

    def overlaps(self, other: Ramp) -> bool:
        """Whether the two ramps share some time."""
        return self.zero_s < other.one_s and other.zero_s < self.one_s


class GridSignals:
    """Per analysis frame: a tiny copy of the picture and its mean luma (fed by :meth:`push`)."""

    def __init__(self) -> None:
        self.small: list[np.ndarray] = []
        self.luma: list[float] = []
        self.spread: list[float] = []

    def push(self, rgb: np.ndarray) -> None:
        height, width = rgb.shape[:2]
        size = (_MIX_WIDTH, max(2, round(_MIX_WIDTH * height / width)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        self.small.append(small)
        grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        self.luma.append(float(grey.mean()))
        self.spread.append(float(grey.std()))

    def frames(self, width: int = _MIX_WIDTH) -> np.ndarray:
        """(N, M) float32: every tiny frame, shrunk further to ``width`` pixels, flattened."""
        height = max(2, round(width * self.small[0].shape[0] / self.small[0].shape[1]))
        small = self.small if width == _MIX_WIDTH else [cv2.resize(x, (width, height), interpolation=cv2.INTER_AREA) for x in self.small]
        return np.stack(small).reshape(len(small), -1).astype(np.float32)


def fit_ramp(times: np.ndarray, weights: np.ndarray) -> Ramp | None:
    """The line through ``(time, w)`` points; None when it does not rise."""
    if len(times) < 2 or np.ptp(times) <= 0:
        return None
    slope, intercept = np.polyfit(times, weights, 1)
    if slope <= 0:
        return None
    return Ramp(float(-intercept / slope), float((1 - intercept) / slope))


def shown_times(grid_times: np.ndarray, timing: StreamTiming) -> np.ndarray:
    """The source time of the frame each grid point shows (the grid holds the last frame before it)."""
    index = np.searchsorted(timing.frame_times_s, grid_times + 1e-9, side="right") - 1
    return timing.frame_times_s[np.clip(index, 0, len(timing.frame_times_s) - 1)]


def dark_runs(luma: np.ndarray, spread: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last)]`` grid indices of runs of black frames, and of sharp dips close to black
    (a fade out and straight back in whose black the grid steps over)."""
    dark = (luma < BLACK_LUMA) & (spread < BLACK_SPREAD)
    n = len(luma)
    for i in range(1, n - 1):
        if not dark[i] and luma[i] < _DIP_LUMA and luma[i] + 2 < min(luma[i - 1], luma[i + 1]):
            around = luma[max(0, i - 8) : i + 9]
            dark[i] = luma[i] < 0.35 * around.max()
    runs, start = [], None
    for i, flag in enumerate(dark):
        if flag and start is None:
            start = i
        if not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, n - 1))
    return runs


def luma_ramp(luma: np.ndarray, shown_s: np.ndarray, edge: int, step: int, fps: float) -> Ramp | None:
    """The fade next to a dark run: walking from grid index ``edge`` away from the dark (``step`` -1:
    back in time, a fade-out; +1: forward, a fade-in) while the luma keeps rising. ``w`` is the
    share of the way to black (fade-out) or from black (fade-in)."""
    n = len(luma)
    i = edge
    limit = int(_LONGEST_RAMP_S * fps)
    while 0 <= i + step < n and abs(i - edge) < limit and luma[i + step] > luma[i] + 0.5:
        i += step
    top = luma[i]
    if top < 1.5 * BLACK_LUMA:
        return None
    inside = sorted(range(min(edge, i), max(edge, i) + 1))
    inside = [k for k in inside if BLACK_LUMA * 0.5 < luma[k] < 0.93 * top]
    if len(inside) < 2:
        return None
    share_of_picture = luma[inside] / top
    times = shown_s[inside]
    # Fade-out: w = 1 - gain rises with time; fade-in: w = gain rises with time.
    weights = 1 - share_of_picture if step < 0 else share_of_picture
    return fit_ramp(times, weights)


def mix_flags(frames: np.ndarray, luma: np.ndarray) -> np.ndarray:
    """(N,) bool: the frame is an in-between mix of its neighbours ``_MIX_STEP`` grid frames away."""
    n = len(frames)
    flags = np.zeros(n, bool)
    k = _MIX_STEP
    for i in range(k, n - k):
        before, after = frames[i - k], frames[i + k]
        change = after - before
        if np.abs(change).mean() < _MIX_MIN_CHANGE or min(luma[i - k], luma[i + k]) < BLACK_LUMA:
            continue
        norm = float(change @ change)
        w = float((frames[i] - before) @ change) / norm
        residual = np.linalg.norm(frames[i] - before - w * change) / np.sqrt(norm)
        flags[i] = 0.1 < w < 0.9 and residual < _MIX_RESIDUAL
    return flags


def dissolves(signals: GridSignals, shown_s: np.ndarray, fps: float) -> list[Ramp]:
    """Cross-dissolves between two pictures (neither black, not one moved by the camera), as fitted
    ramps: looked for on the tiny frames, then on coarser ones where none was found."""
    luma = np.asarray(signals.luma)
    ramps: list[Ramp] = []
    for width in (_MIX_WIDTH, _COARSE_MIX_WIDTH):
        frames = signals.frames(width)
        for ramp in _mix_runs(signals, frames, luma, shown_s, fps):
            if not any(r.zero_s <= ramp.at(0.5) <= r.one_s or ramp.zero_s <= r.at(0.5) <= ramp.one_s for r in ramps):
                ramps.append(ramp)
    return sorted(ramps, key=lambda r: r.zero_s)


def _mix_runs(signals: GridSignals, frames: np.ndarray, luma: np.ndarray, shown_s: np.ndarray, fps: float) -> list[Ramp]:
    """The dissolves whose frames are mixes of the ``frames`` (one row per grid point) around them."""
    n = len(frames)
    ramps = []
    for i, j in flag_runs(mix_flags(frames, luma)):
        ramp = _dissolve_ramp(frames, luma, shown_s, i, j, fps)
        ends = signals.small[max(0, i - _MIX_STEP)], signals.small[min(n - 1, j + _MIX_STEP)]
        if ramp is not None and not same_picture(*ends):
            ramps.append(ramp)
    return ramps


def flag_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[(first, last)]`` of the runs of set flags, a single unset flag bridged."""
    runs = []
    i, n = 0, len(flags)
    while i < n:
        if not flags[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and (flags[j + 1] or (j + 2 < n and flags[j + 2])):
            j += 1
        runs.append((i, j))
        i = j + 1
    return runs


def same_picture(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether RGB frame ``b`` is frame ``a`` moved by the camera (an affine warp aligns them)."""
    grey_a, grey_b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float32) for x in (a, b))
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-5)
    try:
        correlation, _ = cv2.findTransformECC(grey_b, grey_a, np.eye(2, 3, dtype=np.float32), cv2.MOTION_AFFINE, criteria, None, 3)
    except cv2.error:
        return False  # no alignment converges: two different pictures
    return correlation >= SAME_PICTURE_CORRELATION


def _dissolve_ramp(frames: np.ndarray, luma: np.ndarray, shown_s: np.ndarray, first: int, last: int, fps: float) -> Ramp | None:
    """Check the run ``first..last`` of mix flags as one dissolve between the frames around it."""
    n = len(frames)
    if (last - first + 1) / fps > _LONGEST_RAMP_S:
        return None
    p, q = max(0, first - _MIX_STEP), min(n - 1, last + _MIX_STEP)
    before, after = frames[p], frames[q]
    if min(luma[p], luma[q]) < BLACK_LUMA:
        return None
    change = after - before
    norm = float(change @ change)
    if norm <= 0:
        return None
    span = np.arange(p, q + 1)
    w = (frames[span] - before) @ change / norm
    residual = np.linalg.norm(frames[span] - before - w[:, None] * change, axis=1) / np.sqrt(norm)
    inside = (w > 0.05) & (w < 0.95)
    if inside.sum() < 2 or np.median(residual[inside]) > _MIX_RESIDUAL:
        return None
    ramp = fit_ramp(shown_s[span][inside], w[inside])
    # The mix must run from the frame before the run to the frame after it: a flat fit over frames
    # that merely lie between two different pictures (a montage of short shots, at 8 px) would
    # stretch far past them, even past the video's ends.
    margin = 1.0 / fps
    if ramp is None or ramp.zero_s < shown_s[p] - margin or ramp.one_s > shown_s[q] + margin:
        return None
    predicted = np.clip((shown_s[span][inside] - ramp.zero_s) / (ramp.one_s - ramp.zero_s), 0, 1)
    if np.abs(predicted - w[inside]).max() > 0.15:
        return None
    return ramp
