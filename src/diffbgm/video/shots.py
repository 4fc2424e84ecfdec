"""Shot boundaries: PySceneDetect detectors fed with the analysis frames, and user cut lists.

The detectors run on the frames :func:`diffbgm.video.decode.iter_frames` already produced (one
decode for the whole analysis). A :class:`ShotList` is the cut times plus the video's duration; it
writes a plain cut list (CSV or JSON of timestamps) and PySceneDetect's own scene-list CSV, and reads
those and the editors' formats through :mod:`diffbgm.video.cutlist`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
from scenedetect.common import FrameTimecode, Timecode
from scenedetect.detector import SceneDetector
from scenedetect.detectors import AdaptiveDetector, ContentDetector, HashDetector, ThresholdDetector
from scenedetect.output import write_scene_list

DETECTORS = ("content", "adaptive", "threshold", "hash")

# PySceneDetect weighs hue, saturation and luma changes equally with a threshold of 27; a hard cut
# between two shots that differ only in hue by 120 degrees then scores 20 and is missed. Weighing
# hue higher and lowering the threshold finds such cuts (tests/video/test_shots.py) while a
# one-second fade (about 9 per frame at 8 fps) stays below it.
CONTENT_WEIGHTS = ContentDetector.Components(delta_hue=1.5, delta_sat=1.0, delta_lum=1.0, delta_edges=0.0)
DEFAULT_THRESHOLDS = {"content": 18.0, "adaptive": 3.0, "threshold": 12.0, "hash": 0.35}

_MICROSECOND = Fraction(1, 1_000_000)


def make_detector(name: str = "content", threshold: float | None = None, min_shot_s: float = 0.5) -> SceneDetector:
    """A PySceneDetect detector by name (see ``DETECTORS``); ``threshold=None`` takes our default."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}")
    threshold = DEFAULT_THRESHOLDS[name] if threshold is None else float(threshold)
    min_len = float(min_shot_s)
    if name == "content":
        return ContentDetector(threshold=threshold, min_scene_len=min_len, weights=CONTENT_WEIGHTS)
    if name == "adaptive":
        return AdaptiveDetector(adaptive_threshold=threshold, min_scene_len=min_len, weights=CONTENT_WEIGHTS)
    if name == "threshold":
        return ThresholdDetector(threshold=threshold, min_scene_len=min_len)
    return HashDetector(threshold=threshold, min_scene_len=min_len)


class ShotDetector:
    """Feed analysis frames one by one; collect cut times (s) from a PySceneDetect detector."""

    def __init__(self, fps: float, name: str = "content", threshold: float | None = None, min_shot_s: float = 0.5):
        self._detector = make_detector(name, threshold, min_shot_s)
        self._rate = Fraction(fps).limit_denominator(1000)
        self._cuts: list[float] = []
        self._last: FrameTimecode | None = None

    def _timecode(self, time_s: float) -> FrameTimecode:
        return FrameTimecode(Timecode(pts=round(time_s / _MICROSECOND), time_base=_MICROSECOND), fps=self._rate)

    def push(self, time_s: float, rgb: np.ndarray) -> None:
        """Process one RGB frame (H, W, 3) uint8 at ``time_s``; frames must come in time order."""
        timecode = self._timecode(time_s)
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        self._cuts.extend(tc.seconds for tc in self._detector.process_frame(timecode, bgr))
        self._last = timecode

    def finish(self) -> list[float]:
        """Flush the detector; the sorted cut times, in seconds from the video's start."""
        if self._last is not None:
            self._cuts.extend(tc.seconds for tc in self._detector.post_process(self._last))
        return sorted(set(round(t, 6) for t in self._cuts if t > 0))


@dataclass(frozen=True)
class ShotList:
    """Cut times (the start of every shot but the first) of a video ``duration_s`` long."""

    cuts_s: tuple[float, ...]
    duration_s: float

    def __post_init__(self) -> None:
        cuts = sorted({round(float(t), 6) for t in self.cuts_s if 0.0 < float(t) < self.duration_s})
        object.__setattr__(self, "cuts_s", tuple(cuts))

    @property
    def shots(self) -> list[tuple[float, float]]:
        """``[(start_s, end_s)]`` covering the whole video."""
        bounds = [0.0, *self.cuts_s, float(self.duration_s)]
        return list(zip(bounds[:-1], bounds[1:]))

    @classmethod
    def from_shots(cls, shots: list[tuple[float, float]]) -> ShotList:
        """From ``[(start_s, end_s)]``; the last end is the duration."""
        return cls(tuple(start for start, _ in shots[1:]), float(shots[-1][1]))

    # --- plain cut list -------------------------------------------------------------------------

    def to_json(self, path: str | Path) -> None:
        """Write ``{"cuts_s": [...], "duration_s": ...}``."""
        Path(path).write_text(json.dumps({"cuts_s": list(self.cuts_s), "duration_s": self.duration_s}, indent=1) + "\n")

    def to_csv(self, path: str | Path) -> None:
        """Write one cut time in seconds per row under a ``cut_s`` header."""
        rows = "".join(f"{t:.6f}\n" for t in self.cuts_s)
        Path(path).write_text("cut_s\n" + rows)

    def to_scenedetect_csv(self, path: str | Path, fps: float) -> None:
        """Write PySceneDetect's scene-list CSV (as ``scenedetect list-scenes`` does) at frame rate ``fps``."""
        rate = Fraction(fps).limit_denominator(1000)
        scenes = [(FrameTimecode(float(a), fps=rate), FrameTimecode(float(b), fps=rate)) for a, b in self.shots]
        with open(path, "w", newline="") as handle:
            write_scene_list(handle, scenes, include_cut_list=True)

    @classmethod
    def from_file(cls, path: str | Path, duration_s: float, fps: float | None = None) -> ShotList:
        """Read a user's cut list; see :func:`diffbgm.video.cutlist.read_cut_list` for the formats.

        Raises
        ------
        diffbgm.video.cutlist.CutListError
            A ``ValueError``: the file cannot be read, or its cuts do not fit the video.
        """
        from diffbgm.video.cutlist import read_cut_list

        return read_cut_list(path, duration_s, fps)
