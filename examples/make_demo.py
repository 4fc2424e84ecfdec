"""Synthesise the bundled example video ``examples/demo.mp4`` (no third-party footage).

Five shots, 24 s, 640x360 at 24 fps, chosen to exercise the video analysis and the timing solver:

1. 0-6 s    calm dark-blue night: a soft glow drifting slowly
2. 6-11 s   bright warm orange: a square bouncing fast
3. 11-15 s  the same motion in teal at the same brightness (a hue-only cut)
4. 15-20 s  mid-grey violet: bars sweeping at a medium pace
5. 20-24 s  pale pink dawn: a slowly rising disc, fading to black over the last 3 s

A quiet 220 Hz tone with a slow swell is the soundtrack (so that keeping the original sound can be tried).
Run ``python examples/make_demo.py [output]``; the result is the same bytes on every run with the same
PyAV / FFmpeg build.
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

WIDTH, HEIGHT, FPS = 640, 360, 24
SAMPLE_RATE = 48000
SHOT_BOUNDS_S = (0.0, 6.0, 11.0, 15.0, 20.0, 24.0)
DURATION_S = SHOT_BOUNDS_S[-1]

_Y, _X = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)


def _background(top: tuple[float, float, float], bottom: tuple[float, float, float]) -> np.ndarray:
    """A vertical gradient ``(H, W, 3)`` in [0, 1]."""
    mix = (_Y / (HEIGHT - 1))[..., None]
    return (1.0 - mix) * np.array(top, np.float32) + mix * np.array(bottom, np.float32)


def _disc(cx: float, cy: float, radius: float, softness: float) -> np.ndarray:
    """Coverage ``(H, W, 1)`` of a soft-edged disc."""
    distance = np.hypot(_X - cx, _Y - cy)
    return np.clip((radius - distance) / softness + 0.5, 0.0, 1.0)[..., None]


def _square(cx: float, cy: float, half: float) -> np.ndarray:
    inside = (np.abs(_X - cx) <= half) & (np.abs(_Y - cy) <= half)
    return inside.astype(np.float32)[..., None]


def _bounce(t: float, speed: float, low: float, high: float) -> float:
    """Position bouncing between ``low`` and ``high`` at ``speed`` px/s."""
    span = high - low
    phase = (t * speed) % (2 * span)
    return low + (phase if phase < span else 2 * span - phase)


def _paint(image: np.ndarray, coverage: np.ndarray, colour: tuple[float, float, float]) -> np.ndarray:
    return image * (1.0 - coverage) + coverage * np.array(colour, np.float32)


def frame_at(t: float) -> np.ndarray:
    """The demo's RGB frame at ``t`` seconds, uint8 ``(H, W, 3)``."""
    if t < SHOT_BOUNDS_S[1]:
        image = _background((0.02, 0.04, 0.16), (0.05, 0.08, 0.25))
        image = _paint(image, 0.8 * _disc(160 + 25 * t, 150 + 8 * np.sin(t / 2), 60, 40), (0.25, 0.35, 0.6))
    elif t < SHOT_BOUNDS_S[3]:
        # Shots 2 and 3 share the motion; only the hue changes at the cut.
        local = t - SHOT_BOUNDS_S[1]
        warm = t < SHOT_BOUNDS_S[2]
        top, bottom, shape = (
            ((0.98, 0.72, 0.35), (0.9, 0.45, 0.15), (1.0, 0.95, 0.8)) if warm
            else ((0.35, 0.85, 0.8), (0.15, 0.6, 0.65), (0.8, 1.0, 0.95))
        )
        image = _background(top, bottom)
        cx = _bounce(local, 620.0, 50, WIDTH - 50)
        cy = _bounce(local, 410.0, 50, HEIGHT - 50)
        image = _paint(image, _square(cx, cy, 40), shape)
    elif t < SHOT_BOUNDS_S[4]:
        local = t - SHOT_BOUNDS_S[3]
        image = _background((0.42, 0.36, 0.5), (0.3, 0.26, 0.38))
        stripes = ((np.sin((_X + 140 * local) / 40.0) > 0.6).astype(np.float32))[..., None]
        image = _paint(image, 0.6 * stripes, (0.7, 0.6, 0.85))
    else:
        local = t - SHOT_BOUNDS_S[4]
        image = _background((0.98, 0.85, 0.88), (0.85, 0.65, 0.72))
        image = _paint(image, _disc(WIDTH / 2, HEIGHT - 20 * local - 60, 70, 6), (1.0, 0.97, 0.85))
        fade_start = DURATION_S - 3.0
        if t > fade_start:
            image = image * max(0.0, 1.0 - (t - fade_start) / 3.0)
    return np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)


def soundtrack() -> np.ndarray:
    """Planar float32 ``(2, samples)``: a quiet 220 Hz tone with a slow swell (about -30 dBFS)."""
    t = np.arange(int(DURATION_S * SAMPLE_RATE)) / SAMPLE_RATE
    swell = 0.5 - 0.5 * np.cos(2 * np.pi * t / 8.0)
    tone = (0.03 * swell * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32)
    return np.stack([tone, tone])


def write_demo(path: str | Path) -> Path:
    """Write the demo video to ``path`` (H.264 + AAC in MP4; MPEG-4 part 2 if libx264 is missing)."""
    path = Path(path)
    codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        # One thread keeps the encoder's output identical from run to run.
        video.codec_context.thread_count = 1
        video.codec_context.thread_type = "NONE"
        if codec == "libx264":
            video.codec_context.options = {"crf": "26", "preset": "medium"}
        else:
            video.bit_rate = 400_000
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        audio.bit_rate = 64_000
        for index in range(int(round(DURATION_S * FPS))):
            frame = av.VideoFrame.from_ndarray(frame_at(index / FPS), format="rgb24")
            frame.pts = index
            frame.time_base = Fraction(1, FPS)
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        samples = soundtrack()
        for start in range(0, samples.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start:start + 1024]),
                                               format="fltp", layout="stereo")
            frame.sample_rate, frame.pts = SAMPLE_RATE, start
            container.mux(audio.encode(frame))
        container.mux(audio.encode(None))
    return path


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("demo.mp4")
    write_demo(target)
