"""Synthetic test videos written with PyAV: solid colours, hue-only cuts, a moving square, fades.

Shared by the video tests (``from synth import ...``; pytest puts this folder on ``sys.path``) and by
``benchmarks/bench_analyze.py``. Frames are RGB uint8 ``(H, W, 3)``; everything is generated, nothing
is downloaded.
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

# container suffix -> (video codec, encoder options, audio codec)
CODECS: dict[str, tuple[str, dict[str, str], str]] = {
    ".mp4": ("libx264", {"preset": "ultrafast"}, "aac"),
    ".mkv": ("libx264", {"preset": "ultrafast"}, "aac"),
    ".mov": ("libx264", {"preset": "ultrafast"}, "aac"),
    ".webm": ("libvpx", {"deadline": "realtime", "cpu-used": "8"}, "libopus"),
    ".avi": ("mpeg4", {}, "mp2"),
}


def solid(rgb: Sequence[int], n: int, size: tuple[int, int] = (160, 120)) -> Iterator[np.ndarray]:
    """``n`` frames of one colour; ``size`` is (width, height)."""
    width, height = size
    frame = np.empty((height, width, 3), np.uint8)
    frame[:] = np.asarray(rgb, np.uint8)
    for _ in range(n):
        yield frame


def hue_colour(hue_deg: float, saturation: float = 0.8, value: float = 0.7) -> tuple[int, int, int]:
    """An RGB colour from HSV, so that two colours can differ in hue only."""
    r, g, b = colorsys.hsv_to_rgb(hue_deg / 360.0, saturation, value)
    return round(r * 255), round(g * 255), round(b * 255)


def moving_square(
    n: int,
    size: tuple[int, int] = (160, 120),
    speed_px: float = 4.0,
    background: Sequence[int] = (40, 60, 90),
    square: Sequence[int] = (230, 200, 40),
) -> Iterator[np.ndarray]:
    """A textured square sliding across a plain background (``speed_px`` pixels per frame)."""
    width, height = size
    side = max(8, height // 3)
    texture = (np.indices((side, side)).sum(0) % 8 < 4)[..., None] * np.asarray(square, np.uint8)
    for i in range(n):
        frame = np.empty((height, width, 3), np.uint8)
        frame[:] = np.asarray(background, np.uint8)
        x = int(i * speed_px) % max(1, width - side)
        y = (height - side) // 2
        frame[y : y + side, x : x + side] = texture
        yield frame


def fade(a: Sequence[int], b: Sequence[int], n: int, size: tuple[int, int] = (160, 120)) -> Iterator[np.ndarray]:
    """A linear cross-fade from colour ``a`` to colour ``b`` over ``n`` frames."""
    width, height = size
    for i in range(n):
        w = i / max(1, n - 1)
        colour = (1 - w) * np.asarray(a, float) + w * np.asarray(b, float)
        yield np.broadcast_to(colour.round().astype(np.uint8), (height, width, 3))


def write_video(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: float = 24.0,
    times_s: Sequence[float] | None = None,
    rotation: int = 0,
    audio_s: float = 0.0,
    start_s: float = 0.0,
) -> Path:
    """Encode RGB frames into ``path``; the container and codecs follow the suffix (see ``CODECS``).

    ``times_s`` gives each frame's own presentation time (variable frame rate); otherwise frames are
    ``1/fps`` apart, starting at ``start_s``. ``rotation`` writes display-matrix rotation metadata
    (counter-clockwise degrees, as phones do) without rotating the pixels. ``audio_s`` > 0 adds a
    sine-tone audio track of that length.
    """
    path = Path(path)
    codec, options, audio_codec = CODECS[path.suffix]
    time_base = Fraction(1, 1000)
    frames = iter(frames)
    first = next(frames)
    height, width = first.shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=Fraction(round(fps * 1000), 1000), options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if path.suffix in (".mp4", ".mov", ".mkv"):
            # A fine time base keeps variable-frame-rate timestamps exact (AVI and WebM have fixed ones).
            stream.time_base = time_base
            if times_s is not None:
                # The encoder's own time base too, or it rounds variable timestamps to 1/fps (merging frames).
                stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(rotation)
        audio = container.add_stream(audio_codec, rate=48000) if audio_s > 0 else None
        index = 0
        for rgb in _chain(first, frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            t = times_s[index] if times_s is not None else start_s + index / fps
            video_frame.time_base = time_base
            video_frame.pts = round(t / time_base)
            container.mux(stream.encode(video_frame))
            index += 1
        container.mux(stream.encode())
        if audio is not None:
            _write_tone(container, audio, audio_s)
    return path


def write_audio(path: Path, seconds: float) -> Path:
    """An audio-only file (a sine tone); the codec follows the suffix (``.m4a``: AAC, ``.mp3``: MP3)."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        audio = container.add_stream({".m4a": "aac", ".mp3": "mp3", ".mka": "libopus"}[path.suffix], rate=48000)
        _write_tone(container, audio, seconds)
    return path


def write_empty_video(path: Path, size: tuple[int, int] = (64, 48)) -> Path:
    """A container with a video stream header but not a single frame (a zero-length video)."""
    path = Path(path)
    codec, options, _ = CODECS[path.suffix]
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=24, options=options)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        container.start_encoding()
    return path


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _write_tone(container: av.container.OutputContainer, audio: av.audio.stream.AudioStream, seconds: float) -> None:
    rate = audio.codec_context.sample_rate
    resampler = av.AudioResampler(format=audio.format, layout=audio.layout, rate=rate)
    chunk = 1024
    total = int(seconds * rate)
    for start in range(0, total, chunk):
        t = (np.arange(start, min(total, start + chunk)) / rate).astype(np.float32)
        samples = (0.2 * np.sin(2 * np.pi * 440 * t))[None, :].astype(np.float32)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
        frame.sample_rate = rate
        frame.pts = start
        for converted in resampler.resample(frame):
            container.mux(audio.encode(converted))
    for converted in resampler.resample(None):
        container.mux(audio.encode(converted))
    container.mux(audio.encode())
