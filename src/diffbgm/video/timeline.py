"""A one-picture summary of an analysis: a thumbnail per shot with its caption and mood words, cut lines,
motion and brightness curves."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffbgm.music.mood import Mood
from diffbgm.video.analysis import VideoAnalysis

TIMELINE_FILE = "timeline.png"
_WIDTH_IN = 14.0
_THUMB_ROW_IN = 1.3
_LABEL_ROW_IN = 0.6
_CURVE_ROW_IN = 2.2
_LEFT, _RIGHT = 0.05, 0.95  # the axes' share of the figure's width
LABEL_FONT_PT = 7.0
# DejaVu Sans (matplotlib's default) averages about 0.6 em per character over lower-case text and
# digits: a conservative width, so that neighbouring labels do not touch.
_CHAR_EM = 0.6
CAPTION_LINES = 2
MOOD_WORDS_SHOWN = 2
ELLIPSIS = "\u2026"
# A shot with room for fewer characters than this keeps only its number.
MIN_LABEL_CHARS = 4


@dataclass(frozen=True)
class ShotLabel:
    """The text under one shot's thumbnail: its caption (wrapped, cut with an ellipsis) and its mood words,
    centred on ``middle_s``, each line at most ``chars`` characters."""

    middle_s: float
    chars: int
    caption: tuple[str, ...]
    mood: str


def fit_text(text: str, chars: int, lines: int) -> list[str]:
    """``text`` in at most ``lines`` lines of at most ``chars`` characters: whole words where they fit,
    an ellipsis where the text is cut."""
    if chars < 2 or lines < 1:
        return []
    flat, position = " ".join(text.split()), 0
    wrapped = textwrap.wrap(flat, chars)
    if len(wrapped) <= lines:
        return wrapped
    # The last line takes as much of the rest as fits before the ellipsis (textwrap's own max_lines
    # leaves a line short, or nothing but the ellipsis, before a long word).
    for line in wrapped[: lines - 1]:
        position = flat.index(line, position) + len(line)
    return [*wrapped[: lines - 1], flat[position:].lstrip()[: chars - 1].rstrip() + ELLIPSIS]


def shot_labels(shots: list[tuple[float, float]], captions: list[str], moods: list[Mood],
                seconds_per_char: float) -> list[ShotLabel]:
    """Lay out each shot's caption and mood words within its own span of the time axis (``seconds_per_char``:
    the seconds one character of the label font covers), one character of gap to its neighbours; shots
    too short for a label get none."""
    labels = []
    for (start, end), caption, mood in zip(shots, captions, moods):
        chars = int((end - start) / seconds_per_char) - 1
        if chars < MIN_LABEL_CHARS:
            continue
        words = ", ".join(mood.nearest_words(MOOD_WORDS_SHOWN))
        labels.append(ShotLabel(0.5 * (start + end), chars, tuple(fit_text(caption, chars, CAPTION_LINES)),
                                (fit_text(words, chars, 1) or [""])[0]))
    return labels


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
    figure = Figure(figsize=(_WIDTH_IN, _THUMB_ROW_IN + _LABEL_ROW_IN + _CURVE_ROW_IN + 0.6), dpi=dpi)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(3, 1, height_ratios=[_THUMB_ROW_IN, _LABEL_ROW_IN, _CURVE_ROW_IN], hspace=0.08)
    strip = figure.add_subplot(grid[0])
    words = figure.add_subplot(grid[1], sharex=strip)
    curves = figure.add_subplot(grid[2], sharex=strip)

    # Thumbnails keep their aspect: a strip of height 1 spans this many seconds per unit of height.
    figure.subplots_adjust(left=_LEFT, right=_RIGHT, top=0.9, bottom=0.12)
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
    seconds_per_char = duration * LABEL_FONT_PT * _CHAR_EM / 72.0 / (_WIDTH_IN * (_RIGHT - _LEFT))
    for label in shot_labels(list(analysis.shots), list(analysis.shot_captions), list(analysis.shot_moods),
                             seconds_per_char):
        words.text(label.middle_s, 0.96, "\n".join(label.caption), ha="center", va="top", fontsize=LABEL_FONT_PT,
                   linespacing=1.1)
        words.text(label.middle_s, 0.04, label.mood, ha="center", va="bottom", fontsize=LABEL_FONT_PT,
                   style="italic", color="tab:purple")
    words.set_ylim(0, 1)
    words.set_yticks([])
    words.tick_params(labelbottom=False, bottom=False)
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
    for axes in (strip, words, curves):
        for cut in analysis.cuts_s:
            axes.axvline(cut, color="tab:blue", lw=0.8, alpha=0.7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=dpi)
    return path
