"""Long benchmark videos at any size: a virtual camera panning and zooming over scikit-image
photographs, hard cuts between shots and a fade through black every fifth cut, with an optional
soundtrack. Frames are rendered and encoded one at a time, so a 10-minute 720p video needs no more
memory than a frame (``tests/footage.py`` renders whole clips in memory, fine for test clips only).

Used by ``bench_analyze.py`` and ``bench_generate.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "video"))
from footage import Camera, photo  # noqa: E402
from synth import write_video  # noqa: E402

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "coins", "immunohistochemistry", "retina", "moon")
SHOT_LENGTHS_S = (4.0, 2.5, 5.5, 3.0, 4.5, 3.5)
FADE_EVERY = 5  # every fifth edit is a fade through black instead of a hard cut
FADE_S = 0.5  # each half of the fade


def _shot(index: int, frames: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """``frames`` frames of a camera moving over photo ``index``: alternately a pan and a zoom."""
    rng = np.random.default_rng(index)
    image = photo(PHOTOS[index % len(PHOTOS)])
    start = (rng.uniform(0.35, 0.65), rng.uniform(0.4, 0.6), rng.uniform(0.55, 0.8))
    if index % 2:
        end = (start[0] + rng.uniform(-0.25, 0.25), start[1], start[2])  # pan
    else:
        end = (start[0], start[1], start[2] * rng.uniform(0.6, 0.8))  # zoom in
    aspect = size[0] / size[1]
    for x0, y0, w, h in Camera(start, end, seed=index).windows(frames, image.shape[:2], aspect):
        sx, sy = size[0] / w, size[1] / h
        matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float64)
        yield cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def frames(seconds: float, size: tuple[int, int], fps: float) -> Iterator[np.ndarray]:
    """The benchmark video's RGB frames; ``size`` is (width, height)."""
    total = int(round(seconds * fps))
    fade = max(1, int(round(FADE_S * fps)))
    written, index = 0, 0
    while written < total:
        n = min(int(round(SHOT_LENGTHS_S[index % len(SHOT_LENGTHS_S)] * fps)), total - written)
        fade_in = index > 0 and index % FADE_EVERY == 0
        fade_out = (index + 1) % FADE_EVERY == 0
        for j, frame in enumerate(_shot(index, n, size)):
            gain = 1.0
            if fade_in and j < fade:
                gain = (j + 1) / (fade + 1)
            if fade_out and n - j <= fade:
                gain = min(gain, (n - j) / (fade + 1))
            yield frame if gain == 1.0 else (frame * gain).astype(np.uint8)
        written += n
        index += 1


def write_camera_video(path: Path, seconds: float, size: tuple[int, int] = (1280, 720), fps: float = 30.0,
                       audio: bool = False) -> Path:
    """Encode the benchmark video (H.264, ``.mp4``) to ``path``; ``audio`` adds a tone soundtrack."""
    return write_video(Path(path), frames(seconds, size, fps), fps=fps, audio_s=seconds if audio else 0.0)
