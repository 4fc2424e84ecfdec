"""Per-beat conditions from a video: the inference-time side of the dynamic and semantic streams.

Each video curve (``VideoAnalysis.features``) is averaged over every beat of the :class:`TimingPlan`.
Motion and brightness are read on an absolute scale (:data:`MOTION_SCALE`, :data:`BRIGHTNESS_SCALE`), so
that a calm video stays calm and a frantic one asks for many notes: stretching every video to its own
range made both ask for the same music. Accents (saliency, frame-difference peaks) stay relative to the
video's own peaks. Each unit value is then mapped onto the range the feature takes on POP909
(``CALIBRATED_RANGE``), so that the model sees conditions like the ones it was trained on; the mood of
each shot moves density and register (:func:`mood_offsets`):

    density  <- motion                      register <- brightness
    strength <- saliency and frame-difference peaks, full at each shot's first beat
    boundary <- 1 on the first beat of each shot

Segment ids are shot indices; the description of each shot (:func:`diffbgm.conditions.mood.describe`)
is the semantic text of its beats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from diffbgm.conditions import ConditionBatch
from diffbgm.conditions.dynamic import DYNAMIC_FEATURES, TYPICAL_RANGE
from diffbgm.conditions.mood import describe
from diffbgm.music.mood import Mood
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.music.timing import TimingPlan
from diffbgm.music.grid import BEATS_PER_BAR, WINDOW_BEATS, WINDOW_OVERLAP_BARS

PERCENTILES = (5.0, 95.0)
# Motion in frame widths per second (optical flow on the analysis frames) read on a log scale: a
# hundredth of the width a second is still, the whole width a second (a whip pan, a rider passing close)
# is as busy as footage gets.
MOTION_SCALE = (0.01, 1.0)
# Mean luma: night footage sits near 0.15, a bright day near 0.7.
BRIGHTNESS_SCALE = (0.15, 0.75)
# The features' range on POP909 train windows, about the 2nd..98th percentiles, wider than
# TYPICAL_RANGE (10th..90th) so that the calmest and the busiest pictures reach sparse and busy music.
CALIBRATED_RANGE: dict[str, tuple[float, float]] = {"density": (0.06, 0.8), "register": (0.33, 0.72)}
# How far a mood moves density (with arousal) and register (with valence), in unit features (the result
# is clipped into CALIBRATED_RANGE). Large enough that "sad" and "happy" words are heard over the picture:
# the model follows only a part of an asked change of register or density (docs/mood.md).
MOOD_DENSITY_SHIFT, MOOD_REGISTER_SHIFT = 0.35, 0.25
# How far arousal moves the intensity that sets note velocities (1 = the whole velocity range).
MOOD_INTENSITY_SHIFT = 0.25
# A curve whose robust spread is below this carries no information: it maps to the middle of the range.
FLAT_SPREAD = 1e-6
DEFAULT_OVERLAP_BEATS = WINDOW_OVERLAP_BARS * BEATS_PER_BAR


@dataclass
class VideoConditions:
    """Per-beat conditions of a whole video.

    Attributes
    ----------
    dynamic:
        float32 ``(beats, 4)`` in ``DYNAMIC_FEATURES`` order.
    segments:
        int64 ``(beats,)`` shot index of each beat.
    descriptions:
        The semantic text of each beat (its shot's description).
    intensity:
        float32 ``(beats,)`` in [0, 1]: how strong the picture is at each beat (motion and saliency),
        for note velocities.
    """

    dynamic: np.ndarray
    segments: np.ndarray
    descriptions: list[str]
    intensity: np.ndarray

    @property
    def n_beats(self) -> int:
        """Number of beats."""
        return int(self.segments.shape[0])

    def semantic(self, embedder: SentenceEmbedder) -> np.ndarray:
        """float32 ``(beats, dim)`` sentence embeddings of the per-beat descriptions."""
        return embedder.embed(self.descriptions)


@dataclass(frozen=True)
class WindowSpan:
    """A generation window over the beats: ``start_beat`` and how many of its beats are real music."""

    start_beat: int
    n_valid: int
    n_beats: int = WINDOW_BEATS


def window_spans(n_beats: int, window_beats: int = WINDOW_BEATS,
                 overlap_beats: int = DEFAULT_OVERLAP_BEATS) -> list[WindowSpan]:
    """Cover ``n_beats`` with windows of ``window_beats`` overlapping by ``overlap_beats``.

    The last window is padded past the end (``n_valid < window_beats``) rather than shifted back, so
    every window starts on a bar line of the same grid.
    """
    if not 0 <= overlap_beats < window_beats:
        raise ValueError(f"overlap must lie in [0, {window_beats}), got {overlap_beats}")
    if n_beats <= 0:
        raise ValueError("no beats to cover")
    stride = window_beats - overlap_beats
    spans = []
    start = 0
    while True:
        spans.append(WindowSpan(start, min(window_beats, n_beats - start), window_beats))
        if start + window_beats >= n_beats:
            return spans
        start += stride


def condition_windows(conditions: VideoConditions, semantic: np.ndarray,
                      spans: list[WindowSpan]) -> ConditionBatch:
    """Cut the per-beat conditions into a :class:`ConditionBatch` of windows.

    Padded beats repeat the last beat (no boundary) so the model sees a steady ending.
    """
    if semantic.shape[0] != conditions.n_beats:
        raise ValueError(f"semantic has {semantic.shape[0]} beats, conditions {conditions.n_beats}")
    boundary = DYNAMIC_FEATURES.index("boundary")
    dynamic, sem, seg = [], [], []
    for span in spans:
        index = np.minimum(np.arange(span.start_beat, span.start_beat + span.n_beats), conditions.n_beats - 1)
        window_dynamic = conditions.dynamic[index].copy()
        window_dynamic[span.n_valid:, boundary] = 0.0
        dynamic.append(window_dynamic)
        sem.append(semantic[index])
        seg.append(conditions.segments[index])
    return ConditionBatch(
        dynamic=torch.from_numpy(np.stack(dynamic)).float(),
        semantic=torch.from_numpy(np.stack(sem)).float(),
        segments=torch.from_numpy(np.stack(seg)).long(),
    )


def beat_means(frame_times: np.ndarray, values: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """Mean of a per-frame curve over each beat ``[beats_s[k], beats_s[k+1])``.

    A beat holding no frame (shorter than a frame, or outside the video) takes the curve's value at its
    middle, held constant beyond the ends.
    """
    return _per_beat(frame_times, values, beats_s, np.mean)


def beat_peaks(frame_times: np.ndarray, values: np.ndarray, beats_s: np.ndarray) -> np.ndarray:
    """Maximum of a per-frame curve over each beat (see :func:`beat_means`)."""
    return _per_beat(frame_times, values, beats_s, np.max)


def _per_beat(frame_times: np.ndarray, values: np.ndarray, beats_s: np.ndarray, reduce) -> np.ndarray:
    frame_times = np.asarray(frame_times, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    lo = np.searchsorted(frame_times, beats_s[:-1], side="left")
    hi = np.searchsorted(frame_times, beats_s[1:], side="left")
    middles = 0.5 * (beats_s[:-1] + beats_s[1:])
    out = np.interp(middles, frame_times, values)
    for k in np.flatnonzero(hi > lo):
        out[k] = reduce(values[lo[k]:hi[k]])
    return out


def robust_unit(values: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """Map ``values`` to [0, 1] by the 5th-95th percentiles of ``reference`` (default: the values)."""
    reference = values if reference is None else reference
    low, high = np.percentile(reference, PERCENTILES)
    if high - low < FLAT_SPREAD:
        return np.full(values.shape, 0.5)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def onto_typical(unit: np.ndarray, feature: str) -> np.ndarray:
    """[0, 1] -> the feature's ``TYPICAL_RANGE``."""
    low, high = TYPICAL_RANGE[feature]
    return low + unit * (high - low)


def absolute_unit(values: np.ndarray, scale: tuple[float, float], log: bool = False) -> np.ndarray:
    """``values`` on a fixed scale -> [0, 1] (log-spaced with ``log``), the same for every video."""
    low, high = scale
    values = np.asarray(values, dtype=np.float64)
    if log:
        return np.clip(np.log(np.maximum(values, low) / low) / np.log(high / low), 0.0, 1.0)
    return np.clip((values - low) / (high - low), 0.0, 1.0)


def onto_calibrated(unit: np.ndarray, feature: str) -> np.ndarray:
    """[0, 1] -> the feature's ``CALIBRATED_RANGE``."""
    low, high = CALIBRATED_RANGE[feature]
    return low + np.clip(unit, 0.0, 1.0) * (high - low)


def mood_offsets(mood: Mood) -> tuple[float, float]:
    """How much a mood moves the density and register units: aroused moods busier, happy ones higher."""
    return MOOD_DENSITY_SHIFT * mood.arousal, MOOD_REGISTER_SHIFT * mood.valence


def shot_start_beats(shots: list[tuple[float, float]], plan: TimingPlan) -> np.ndarray:
    """Index of the beat each shot starts on (the nearest beat to its first frame)."""
    starts = np.array([start for start, _ in shots], dtype=np.float64)
    beats = np.rint(plan.tempo_map.beat_of_time(starts)).astype(np.int64)
    beats = np.clip(beats, 0, plan.n_beats - 1)
    beats[0] = 0
    return np.maximum.accumulate(beats)


def conditions_from_video(analysis, plan: TimingPlan, mood: Mood | None = None) -> VideoConditions:
    """Per-beat dynamic features, shot ids and descriptions of a video.

    Parameters
    ----------
    analysis:
        A :class:`diffbgm.video.analysis.VideoAnalysis` (``frame_times``, ``shots``, ``features`` with
        ``motion``, ``saliency``, ``brightness`` and optionally ``difference``, ``shot_moods``).
    plan:
        The music's grid from :func:`diffbgm.music.timing.plan_timing`.
    mood:
        Use this mood for every shot instead of the analysis' shot moods.
    """
    features = analysis.features
    for name in ("motion", "saliency", "brightness"):
        if name not in features:
            raise KeyError(f"the video analysis has no {name!r} curve (has: {', '.join(features)})")
    times = np.asarray(analysis.frame_times, dtype=np.float64)
    beats_s = np.asarray(plan.beats_s, dtype=np.float64)

    def unit_of(name: str, per_beat) -> np.ndarray:
        curve = np.asarray(features[name], dtype=np.float64)
        return robust_unit(per_beat(times, curve, beats_s), reference=curve)

    def beat_curve(name: str) -> np.ndarray:
        return beat_means(times, np.asarray(features[name], dtype=np.float64), beats_s)

    motion = absolute_unit(beat_curve("motion"), MOTION_SCALE, log=True)
    brightness = absolute_unit(beat_curve("brightness"), BRIGHTNESS_SCALE)
    saliency = unit_of("saliency", beat_means)
    change = unit_of("difference", beat_peaks) if "difference" in features else saliency

    shots = list(analysis.shots) or [(0.0, float(analysis.duration_s))]
    first_beats = shot_start_beats(shots, plan)
    n_beats = plan.n_beats
    segments = np.zeros(n_beats, dtype=np.int64)
    boundary = np.zeros(n_beats)
    for shot_index, beat in enumerate(first_beats):
        segments[beat:] = shot_index
        boundary[beat] = 1.0

    moods = list(getattr(analysis, "shot_moods", []) or [])
    density_shift, register_shift = np.zeros(n_beats), np.zeros(n_beats)
    for shot_index in np.unique(segments):
        members = segments == shot_index
        shot_mood = mood if mood is not None else (moods[shot_index] if shot_index < len(moods) else Mood(0.0, 0.0))
        density_shift[members], register_shift[members] = mood_offsets(shot_mood)

    strength = np.maximum(0.5 * (saliency + change), boundary)
    dynamic = np.stack([
        onto_calibrated(motion + density_shift, "density"),
        onto_typical(strength, "strength"),
        onto_calibrated(brightness + register_shift, "register"),
        onto_typical(boundary, "boundary"),
    ], axis=-1).astype(np.float32)

    bar_bpm = np.repeat(plan.bar_bpm, plan.bar_beats)
    descriptions = [""] * n_beats
    for shot_index in np.unique(segments):
        members = segments == shot_index
        shot_mood = mood if mood is not None else (moods[shot_index] if shot_index < len(moods) else Mood(0.0, 0.0))
        text = describe(
            shot_mood,
            tempo_bpm=float(np.median(bar_bpm[members])),
            density=float(dynamic[members, DYNAMIC_FEATURES.index("density")].mean()),
            register=float(dynamic[members, DYNAMIC_FEATURES.index("register")].mean()),
        )
        for beat in np.flatnonzero(members):
            descriptions[beat] = text
    intensity = np.clip(0.5 * (motion + saliency) + MOOD_INTENSITY_SHIFT * density_shift / MOOD_DENSITY_SHIFT,
                        0.0, 1.0).astype(np.float32)
    return VideoConditions(dynamic=dynamic, segments=segments, descriptions=descriptions, intensity=intensity)
