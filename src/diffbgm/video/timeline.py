"""A one-picture summary of an analysis: a thumbnail per shot, cut lines, motion and brightness curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from diffbgm.video.analysis import VideoAnalysis

TIMELINE_FILE = "timeline.png"
_WIDTH_IN = 14.0
_THUMB_ROW_IN = 1.3
_CURVE_ROW_IN = 2.2


def _shot_thumbnail(analysis: VideoAnalysis, start: float, end: float) -> np.ndarray | None:
    if len(analysis.thumbnails) == 0:
        return None
    middle = 0.5 * (start + end)
    times = np.asarray(analysis.thumbnail_times)
    inside = np.flatnonzero((times >= start) & (times < end))
    candidates = inside if len(inside) else np.arange(len(times))
    return analysis.thumbnails[candidates[np.abs(times[candidates] - middle).argmin()]]


def draw_timeline(analysis: VideoAnalysis, path: str | Path, dpi: int = 100) -> Path:
    """Draw the timeline of ``analysis`` into the PNG ``path``.

    Uses matplotlib's Agg canvas directly (no pyplot, no global backend switch), so it works headless
    and leaves the caller's matplotlib state alone.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    duration = max(float(analysis.duration_s), 1e-3)
    figure = Figure(figsize=(_WIDTH_IN, _THUMB_ROW_IN + _CURVE_ROW_IN + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 1, height_ratios=[_THUMB_ROW_IN, _CURVE_ROW_IN], hspace=0.08)
    strip = figure.add_subplot(grid[0])
    curves = figure.add_subplot(grid[1], sharex=strip)

    # Thumbnails keep their aspect: a strip of height 1 spans this many seconds per unit of height.
    figure.subplots_adjust(left=0.05, right=0.95, top=0.9, bottom=0.14)
    box = strip.get_position()
    seconds_per_height = duration * (box.height * figure.get_figheight()) / (box.width * figure.get_figwidth())
    for number, (start, end) in enumerate(analysis.shots, start=1):
        thumb = _shot_thumbnail(analysis, start, end)
        if thumb is not None:
            width = min(end - start, seconds_per_height * thumb.shape[1] / thumb.shape[0] * 0.9)
            middle = 0.5 * (start + end)
            strip.imshow(thumb, extent=(middle - width / 2, middle + width / 2, 0.05, 0.95), aspect="auto")
        if len(analysis.shots) <= 40:
            strip.text(0.5 * (start + end), 1.02, str(number), ha="center", va="bottom", fontsize=7)
    strip.set_ylim(0, 1.15)
    strip.set_yticks([])
    strip.tick_params(labelbottom=False)
    strip.set_title(
        f"{Path(analysis.source).name or 'video'}: {duration:.1f} s, {analysis.width}x{analysis.height}, "
        f"{len(analysis.shots)} shots",
        fontsize=10,
    )

    times = np.asarray(analysis.frame_times)
    motion = analysis.features["motion"]
    curves.plot(times, motion / max(float(motion.max()), 1e-6), color="tab:red", lw=1.2, drawstyle="steps-post", label="motion (scaled)")
    curves.plot(times, analysis.features["brightness"], color="tab:olive", lw=1.2, drawstyle="steps-post", label="brightness")
    curves.set_ylim(-0.02, 1.05)
    curves.set_xlim(0, duration)
    curves.set_xlabel("time (s)")
    curves.legend(loc="upper right", fontsize=8, framealpha=0.8)
    for axes in (strip, curves):
        for cut in analysis.cuts_s:
            axes.axvline(cut, color="tab:blue", lw=0.8, alpha=0.7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path
