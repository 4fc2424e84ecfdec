"""Wipes on the analysis grid: the incoming picture uncovers the outgoing one behind a moving edge.

Inside a wipe every pixel shows one of the two pictures, so each frame is a per-pixel choice between
the last frame before the wipe and the first frame after it, and the share of the picture the new one
has taken grows steadily from 0 to 1. A cross-dissolve mixes every pixel instead
(:mod:`diffbgm.video.transitions`); a camera move shows neither picture where it was; an object
crossing a still background leaves the frames at both ends one picture (``same_picture``). The point
of a wipe, its musical boundary, is half way between its last frame of the old picture and its first
of the new one, as a dissolve's is. Tested on tiny frames, where a soft edge is a few pixels and the
motion inside slow shots is gone; a slide (both pictures moving) is no per-pixel choice and is not
found.
"""

from __future__ import annotations

import numpy as np

from diffbgm.video.transitions import GridSignals, Ramp, fit_ramp, flag_runs, same_picture

# Frames this small show a wipe's edge within a frame or two of its place; on the coarser ones, looked
# at for the wipes not found on the first, the motion of a talking head or a slow cartoon is gone too.
_WIPE_WIDTHS = (32, 16)
# Neighbour distances (grid frames) of the per-frame test: two for short wipes, four for slow ones,
# whose edge moves little in two grid frames.
_STEPS = (2, 4)
# A pixel has changed between two frames when its RGB values differ by this much in all (0..765).
_CHANGED = 60.0
# The share of the picture that must change between the ends of a wipe, and between a frame's two
# neighbours for the frame to be tested.
_MIN_CHANGED_SHARE = 0.3
_MIN_STEP_CHANGE = 0.15
# Per-frame limit on the picture left unexplained by the two ends, relative to their difference.
_RESIDUAL = 0.15
# A wipe's coverage may fall back this much between frames (noise), and stray this far from the
# straight line between its ends (a circle opening grows with the square of time and is left out).
_MONOTONE_SLACK = 0.1
_MAX_NONLINEARITY = 0.25
_LONGEST_WIPE_S = 3.0


def composite(frame: np.ndarray, before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """How well ``frame`` is a per-pixel choice between ``before`` and ``after`` (each ``(H, W, 3)``):
    the residual (what neither explains, relative to their difference), the coverage (the share of
    the changed pixels that show ``after``) and the share of the picture that changed."""
    to_before = np.abs(frame - before).sum(-1)
    to_after = np.abs(frame - after).sum(-1)
    change = np.abs(after - before).sum(-1)
    residual = float(np.minimum(to_before, to_after).sum() / max(float(change.sum()), 1e-6))
    changed = change > _CHANGED
    coverage = float((to_after[changed] < to_before[changed]).mean()) if changed.any() else 0.0
    return residual, coverage, float(changed.mean())


def _flags(frames: np.ndarray) -> np.ndarray:
    """(N,) bool: the frame lies part way through a per-pixel choice between its neighbours."""
    n = len(frames)
    flags = np.zeros(n, bool)
    for k in _STEPS:
        for i in range(k, n - k):
            if flags[i]:
                continue
            residual, coverage, changed = composite(frames[i], frames[i - k], frames[i + k])
            flags[i] = changed >= _MIN_STEP_CHANGE and residual < _RESIDUAL and 0.1 < coverage < 0.9
    return flags


def _coverages(frames: np.ndarray, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """Coverage and residual of every frame from ``first`` to ``last`` between those two."""
    rows = [composite(frames[m], frames[first], frames[last]) for m in range(first, last + 1)]
    return np.array([r[1] for r in rows]), np.array([r[0] for r in rows])


def _inner_residual(frames: np.ndarray, first: int, last: int) -> float:
    return float(np.median(_coverages(frames, first, last)[1][1:-1])) if last - first > 1 else 0.0


def wipes(signals: GridSignals, shown_s: np.ndarray, fps: float) -> list[Ramp]:
    """The wipes, each as the ramp from its last frame of the old picture (``zero_s``) to its first of
    the new one (``one_s``), source times; ``at(0.5)`` is its point."""
    found: list[Ramp] = []
    for width in _WIPE_WIDTHS:
        frames = signals.frames(width).reshape(len(signals.small), -1, width, 3)  # (N, H, W, RGB)
        n = len(frames)
        for i, j in flag_runs(_flags(frames)):
            ramp = _wipe(signals, frames, shown_s, max(0, i - _STEPS[0]), min(n - 1, j + _STEPS[0]), fps)
            # Two runs of flags inside one wipe widen to the same wipe; one found on finer frames stands.
            if ramp is not None and not any(ramp.overlaps(r) for r in found):
                found.append(ramp)
    return sorted(found, key=lambda r: r.zero_s)


def _wipe(signals: GridSignals, frames: np.ndarray, shown_s: np.ndarray, first: int, last: int, fps: float) -> Ramp | None:
    """Check frames ``first..last`` (widened while the wipe goes on) as one wipe."""
    n = len(frames)
    # Widen to the wipe's ends: while the frame after ``last`` holds more of the new picture than
    # ``last`` does (a frame a step inside the wipe was taken for its end), and the same backwards.
    while last + 1 < n and composite(frames[last], frames[first], frames[last + 1])[1] <= 0.97 \
            and _inner_residual(frames, first, last + 1) < _RESIDUAL:
        last += 1
    while first > 0 and composite(frames[first], frames[first - 1], frames[last])[1] >= 0.03 \
            and _inner_residual(frames, first - 1, last) < _RESIDUAL:
        first -= 1
    coverage, residual = _coverages(frames, first, last)
    # The last frame still wholly old and the first wholly new (the ends chosen above may lie a frame
    # or two outside the wipe in a still shot).
    start = max(0, int(np.argmax(coverage > 0.02)) - 1)
    end = start + int(np.argmax(coverage[start:] >= 0.98))
    coverage, residual = coverage[start:end + 1], residual[start:end + 1]
    first, last = first + start, first + end
    if last - first < 3 or (shown_s[last] - shown_s[first]) > _LONGEST_WIPE_S + 1.0 / fps:
        return None
    change = np.abs(frames[last] - frames[first]).sum(-1)
    if (change > _CHANGED).mean() < _MIN_CHANGED_SHARE or np.median(residual[1:-1]) >= _RESIDUAL:
        return None
    if (np.diff(coverage) < -_MONOTONE_SLACK).any():
        return None
    times = shown_s[first:last + 1]
    straight = (times - times[0]) / (times[-1] - times[0])
    if np.abs(coverage - straight).max() > _MAX_NONLINEARITY:
        return None
    if same_picture(signals.small[first], signals.small[last]):
        return None
    # The wipe begins after its last old frame and ends by its first new one: placed between them
    # from the rate at which the new picture spreads (a line through the frames inside), as the share
    # of the changed pixels is uneven over the picture but its growth, frame to frame, is steady.
    inside = (coverage > 0.05) & (coverage < 0.95)
    fitted = fit_ramp(times[inside], coverage[inside]) if inside.sum() >= 2 else None
    if fitted is None:
        return Ramp(float(times[0]), float(times[-1]))
    seconds = fitted.one_s - fitted.zero_s
    start = float(np.clip(times[1] - coverage[1] * seconds, times[0], times[1]))
    end = float(np.clip(times[-2] + (1.0 - coverage[-2]) * seconds, times[-2], times[-1]))
    return Ramp(start, end)
