"""Damaged and unusual video files for the bad-input corpus, each made small and fast with PyAV."""

from __future__ import annotations

import itertools
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from footage import photo
from video.synth import write_video

FPS = 12.0
SIZE = (64, 48)


def photo_frames(n: int, size: tuple[int, int] = SIZE, names: tuple[str, ...] = ("astronaut", "coffee")):
    """``n`` frames in two shots (a cut half-way), each a photograph scaled to ``size`` sliding by a pixel a frame."""
    import cv2

    stills = [cv2.resize(photo(name), (size[0] + n, size[1]), interpolation=cv2.INTER_AREA) for name in names]
    for k in range(n):
        still = stills[0] if k < n // 2 else stills[1]
        yield np.ascontiguousarray(still[:, k:k + size[0]])


def photo_video(path: Path, seconds: float = 2.0, **options) -> Path:
    """A ``seconds``-long photo clip (see :func:`photo_frames`) with ``write_video``'s ``options``."""
    size = options.pop("size", SIZE)
    return write_video(path, photo_frames(round(seconds * FPS), size), fps=FPS, **options)


def faststart_video(path: Path, seconds: float = 2.0) -> Path:
    """An MP4 with its index (moov) before the media data, as web videos are: a cut file keeps its index."""
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=int(FPS), options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
        for picture in photo_frames(round(seconds * FPS)):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def truncated(source: Path, path: Path) -> Path:
    """The first half of ``source``'s bytes."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def without_moov(source: Path, path: Path) -> Path:
    """``source`` without its top-level ``moov`` box (the index; FFmpeg finds one even in a box renamed
    ``free``, so it is cut out): the media data are all there, their index is not."""
    data = source.read_bytes()
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset:offset + 4], "big")
        if data[offset + 4:offset + 8] == b"moov":
            path.write_bytes(data[:offset] + data[offset + size:])
            return path
        offset += size
    raise AssertionError(f"{source} has no moov box")


def audio_only(path: Path, seconds: float = 2.0, rate: int = 48000) -> Path:
    """An MP4 holding a sine tone and no picture."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=rate, layout="stereo")
        for start in range(0, int(seconds * rate), 1024):
            t = (start + np.arange(1024)) / rate
            tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def odd_size_video(path: Path, size: tuple[int, int] = (33, 17), seconds: float = 2.0) -> Path:
    """An H.264 (4:4:4, which takes odd sizes) MKV ``size`` pixels large."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=int(FPS), options={"preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv444p"
        for picture in photo_frames(round(seconds * FPS), size):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def vfr_times(n: int, seed: int = 0) -> list[float]:
    """``n`` frame times whose periods vary from a third to twice ``1 / FPS``."""
    periods = np.random.default_rng(seed).uniform(1 / 3, 2.0, n) / FPS
    return list(itertools.accumulate(periods[:-1], initial=0.0))
