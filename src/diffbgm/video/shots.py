"""Shot boundaries: PySceneDetect detectors fed with the analysis frames, and user cut lists.

The detectors run on the frames :func:`diffbgm.video.decode.iter_frames` already produced (one
decode for the whole analysis). A :class:`ShotList` is the cut times plus the video's duration; it
reads and writes a plain cut list (CSV or JSON of timestamps) and PySceneDetect's own scene-list CSV.
"""

from __future__ import annotations

import csv
import io
import json
import re
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
    def from_file(cls, path: str | Path, duration_s: float) -> ShotList:
        """Read a user cut list: JSON (a list of times, or ``{"cuts_s": [...]}``), a CSV/text list of
        times (seconds or ``HH:MM:SS.mmm``), or PySceneDetect's scene-list CSV.

        Raises
        ------
        ValueError
            The file cannot be parsed as any of these.
        """
        path = Path(path)
        text = path.read_text()
        if path.suffix.lower() == ".json":
            return cls(tuple(_parse_json_cuts(text, path)), duration_s)
        if "Scene Number" in text:
            return cls(tuple(_parse_scenedetect_csv(text, path)), duration_s)
        return cls(tuple(_parse_plain_cuts(text, path)), duration_s)


def _parse_json_cuts(text: str, path: Path) -> list[float]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from error
    if isinstance(data, dict):
        data = data.get("cuts_s", data.get("cuts"))
    if not isinstance(data, list):
        raise ValueError(f'{path}: expected a list of cut times or {{"cuts_s": [...]}}')
    return [parse_time(str(value), path) for value in data]


def _parse_plain_cuts(text: str, path: Path) -> list[float]:
    cells = [cell.strip() for row in csv.reader(io.StringIO(text)) for cell in row]
    cells = [cell for cell in cells if cell]
    if cells and not _looks_like_time(cells[0]):
        cells = cells[1:]  # a header such as "cut_s"
    return [parse_time(cell, path) for cell in cells]


def _parse_scenedetect_csv(text: str, path: Path) -> list[float]:
    lines = text.splitlines()
    header_row = next(i for i, line in enumerate(lines) if line.startswith("Scene Number"))
    reader = csv.DictReader(io.StringIO("\n".join(lines[header_row:])))
    try:
        starts = [float(row["Start Time (seconds)"]) for row in reader]
    except (KeyError, ValueError) as error:
        raise ValueError(f"{path}: not a PySceneDetect scene list ({error})") from error
    return starts[1:]


_TIMECODE = re.compile(r"^(?:(\d+):)?(\d+):(\d+(?:\.\d+)?)$")


def _looks_like_time(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return bool(_TIMECODE.match(cell))


def parse_time(cell: str, path: Path | str = "<cut list>") -> float:
    """Seconds from ``"12.5"``, ``"00:12.5"`` or ``"00:00:12.500"``."""
    cell = cell.strip()
    try:
        return float(cell)
    except ValueError:
        match = _TIMECODE.match(cell)
        if not match:
            raise ValueError(f"{path}: {cell!r} is not a time (seconds or HH:MM:SS.mmm)") from None
        hours, minutes, seconds = match.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds)
