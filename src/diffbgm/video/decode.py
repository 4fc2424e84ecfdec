"""Stream small RGB frames out of a video at a fixed analysis rate, with PyAV.

Frames come out on a uniform time grid ``k / fps`` (seconds from the container's start), each grid
point showing the source frame on screen at that moment, so a variable-frame-rate video, a source
slower or faster than the analysis rate and a delayed first frame all give the same regular grid.
Only the frames that land on the grid are converted (and downscaled by swscale); the generator holds
one decoded frame at a time, so memory stays flat however long the video is.

:func:`stream_timing` reads every source frame's presentation time and the stream's true end from
the packets alone; ``on_source_frame`` shows every decoded source frame to a caller (which places
cuts on their exact frame) without converting it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

logger = logging.getLogger(__name__)

# A decoded stream shorter than this share of the declared duration is reported as truncated.
_TRUNCATION_RATIO = 0.9


class VideoError(Exception):
    """The file cannot be analysed as a video (not a video, truncated, empty, audio only)."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream (display geometry, after rotation)."""

    duration_s: float
    fps: float
    width: int
    height: int
    rotation: int
    start_s: float
    has_audio: bool
    codec: str
    frame_count: int = 0  # as declared by the container (0: unknown)

    @property
    def declared_s(self) -> float:
        """The longest length the container claims, from its duration or its frame count."""
        from_count = self.frame_count / self.fps if self.frame_count and self.fps else 0.0
        return max(self.duration_s, from_count)


@dataclass(frozen=True)
class Frame:
    """One analysis frame: its grid time (s from the video's start) and read-only RGB pixels (H, W, 3) uint8."""

    index: int
    time_s: float
    rgb: np.ndarray


def open_container(path: Path) -> av.container.InputContainer:
    if not path.is_file():
        raise VideoError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: empty file (zero bytes)")
    try:
        return av.open(str(path), "r")
    except (av.error.FFmpegError, UnicodeDecodeError) as error:
        raise VideoError(f"{path}: not a video file, or truncated/corrupt ({error.__class__.__name__})") from error


def video_stream_of(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    # Cover art (a single attached picture) is not a video.
    streams = [s for s in container.streams.video if not (s.disposition & av.stream.Disposition.attached_pic)]
    if not streams:
        kinds = sorted({s.type for s in container.streams})
        found = f"only {' and '.join(kinds)}" if kinds else "no streams at all: empty or zero-length"
        raise VideoError(f"{path}: no video stream ({found})")
    return streams[0]


def _duration_s(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    """Where the video stream ends, in seconds from the container's start."""
    if stream.duration is not None and stream.time_base is not None:
        start = stream.start_time or 0
        origin = container.start_time / av.time_base if container.start_time is not None else 0.0
        return float((start + stream.duration) * stream.time_base) - origin
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _rotation_of(stream: av.video.stream.VideoStream) -> int:
    """Counter-clockwise display rotation in degrees, a multiple of 90, from the first frame's matrix."""
    try:
        for frame in stream.container.decode(stream):
            return int(round(frame.rotation / 90.0)) * 90 % 360
    except av.error.FFmpegError:
        pass
    return 0


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's geometry and timing without decoding more than its first frame.

    Raises
    ------
    VideoError
        The file is missing, empty, not a media file, or has no video stream.
    """
    path = Path(path)
    with open_container(path) as container:
        stream = video_stream_of(container, path)
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        start_s = container.start_time / av.time_base if container.start_time is not None else 0.0
        info = dict(
            duration_s=_duration_s(container, stream),
            fps=float(rate) if rate else 0.0,
            start_s=start_s,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            frame_count=int(stream.frames or 0),
        )
        width, height = stream.codec_context.width, stream.codec_context.height
        rotation = _rotation_of(stream)
    if rotation in (90, 270):
        width, height = height, width
    return VideoInfo(width=width, height=height, rotation=rotation, **info)


def analysis_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is at most ``max_side``, both even, aspect kept."""
    scale = min(1.0, max_side / max(width, height))
    return max(2, 2 * round(width * scale / 2)), max(2, 2 * round(height * scale / 2))


# Decoder threads of the streams this process opens (0: FFmpeg's, one per core); --threads sets it with
# torch's and OpenCV's (diffbgm.cli.environment.set_threads), so two processes do not oversubscribe.
_decoder_threads = 0


def set_decoder_threads(threads: int) -> None:
    """Decode with ``threads`` threads from now on (0: FFmpeg's choice)."""
    global _decoder_threads
    _decoder_threads = max(0, int(threads))


def decoder_threads() -> int:
    """The decoder threads set by :func:`set_decoder_threads` (0: FFmpeg's choice)."""
    return _decoder_threads


def iter_frames(
    path: str | Path,
    fps: float = 8.0,
    max_side: int = 256,
    threads: int | None = None,
    on_source_frame: Callable[[float, av.VideoFrame], None] | None = None,
) -> Iterator[Frame]:
    """Yield the video's frames on the grid ``k / fps`` s, downscaled to ``max_side`` and upright.

    Parameters
    ----------
    path : the video file (any container FFmpeg reads: mp4, mkv, mov, webm, avi, ...).
    fps : analysis rate, frames per second of video time.
    max_side : the longer side of the frames yielded, in pixels (never upscaled).
    threads : decoder threads (0: FFmpeg's choice; ``None``: :func:`decoder_threads`).
    on_source_frame : called with ``(time_s, frame)`` for every decoded source frame, in time order
        (a cheap look at frames the grid skips, e.g. :func:`frame_luma`).

    Raises
    ------
    VideoError
        Not a video, no video stream, no decodable frame, or a file that stops well before its
        declared duration (truncated).
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    info = probe_video(path)
    with open_container(path) as container:
        stream = video_stream_of(container, path)
        stream.thread_type = "AUTO"
        stream.thread_count = decoder_threads() if threads is None else threads
        origin_s = info.start_s
        size: tuple[int, int] | None = None
        index = 0
        held: av.VideoFrame | None = None
        held_rgb: np.ndarray | None = None
        last_time = -math.inf
        # One scaler for the whole stream: ``frame.reformat`` builds a new one (its filter tables
        # included) for every frame, several times the cost of the scaling itself.
        reformatter = VideoReformatter()

        def convert(frame: av.VideoFrame) -> np.ndarray:
            nonlocal size
            if size is None:
                # Rotation swaps the stored size; scale the stored frame so the upright one fits.
                size = analysis_size(frame.width, frame.height, max_side)
            rgb = reformatter.reformat(frame, width=size[0], height=size[1], format="rgb24",
                                       interpolation="AREA").to_ndarray()
            if info.rotation:
                rgb = np.ascontiguousarray(np.rot90(rgb, k=info.rotation // 90))
            # One array may stand for several grid points: read-only so no consumer changes the others.
            rgb.flags.writeable = False
            return rgb

        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                time_s = float(frame.pts * frame.time_base) - origin_s
                if time_s <= last_time:
                    # Out-of-order or duplicate timestamps: keep the grid monotonic.
                    continue
                last_time = time_s
                if on_source_frame is not None:
                    on_source_frame(time_s, frame)
                if held is not None:
                    # ``held`` is on screen from its own time until ``time_s``.
                    while index / fps < time_s:
                        if held_rgb is None:
                            held_rgb = convert(held)
                        yield Frame(index, index / fps, held_rgb)
                        index += 1
                held, held_rgb = frame, None
                if index == 0 and time_s > 0:
                    # A delayed first frame also stands for the grid points before it.
                    while index / fps < time_s:
                        held_rgb = convert(held) if held_rgb is None else held_rgb
                        yield Frame(index, index / fps, held_rgb)
                        index += 1
        except av.error.FFmpegError as error:
            # A single decoder thread stops at the damage where several threads end quietly: the same file.
            raise VideoError(_truncation(path, last_time, info)
                             or f"{path}: decoding failed at {max(last_time, 0):.2f} s ({error})") from error

        if held is None:
            raise VideoError(f"{path}: no video frame could be decoded (zero-length or broken video)")
        # The last frame stays on screen for its own duration (or one average frame period).
        last_duration_s = float(held.duration * held.time_base) if held.duration else 0.0
        end_s = last_time + (last_duration_s or (1.0 / info.fps if info.fps else 1.0 / fps))
        if truncated := _truncation(path, last_time, info):
            raise VideoError(truncated)
        held_rgb = convert(held) if held_rgb is None else held_rgb
        while index / fps < end_s - 1e-9 or index == 0:
            yield Frame(index, index / fps, held_rgb)
            index += 1


def _truncation(path: Path, last_time_s: float, info: VideoInfo) -> str | None:
    """The error for frames that stop well before the container's declared duration, else None."""
    declared_s = info.declared_s
    if declared_s > 0 and last_time_s < _TRUNCATION_RATIO * declared_s - 1.0 / max(info.fps, 1.0):
        return f"{path}: truncated: frames stop at {max(last_time_s, 0):.2f} s of a declared {declared_s:.2f} s"
    return None


@dataclass(frozen=True)
class StreamTiming:
    """When each source frame of the video stream is shown, from its packets (nothing decoded).

    ``frame_times_s`` are the presentation times of the frames, sorted, in seconds from the
    container's start (the origin of :func:`iter_frames`'s grid); ``end_s`` is when the last frame
    leaves the screen: its time plus its own duration (or the frame period before it).
    """

    frame_times_s: np.ndarray
    end_s: float

    def nearest(self, time_s: float) -> float:
        """The presentation time of the frame whose start is nearest ``time_s``."""
        times = self.frame_times_s
        index = int(np.argmin(np.abs(times - time_s)))
        return float(times[index])

    def after_nearest(self, time_s: float) -> float:
        """The presentation time of the frame after the one nearest ``time_s`` (or ``end_s``): where
        a fitted ramp's zero falls on the last unchanged frame, the first changed one."""
        index = int(np.argmin(np.abs(self.frame_times_s - time_s))) + 1
        return float(self.frame_times_s[index]) if index < len(self.frame_times_s) else self.end_s


def stream_timing(path: str | Path) -> StreamTiming:
    """Presentation times and true end of a video stream, read from its packets without decoding.

    Packets the demuxer marks as discarded (before or after an MP4 edit list's range) and packets
    without a timestamp are not frames; B-frame reordering is undone by sorting. The end is the
    last frame's time plus its packet duration, or the median frame period when the container does
    not store one, so a stream whose length is not a multiple of any analysis step keeps its length.

    Raises
    ------
    VideoError
        Not a video, no video stream or not a single timed frame.
    """
    path = Path(path)
    with open_container(path) as container:
        stream = video_stream_of(container, path)
        origin_s = container.start_time / av.time_base if container.start_time is not None else 0.0
        starts: list[int] = []
        durations: dict[int, int] = {}
        try:
            for packet in container.demux(stream):
                if packet.pts is None or packet.size == 0 or packet.is_discard:
                    continue
                starts.append(packet.pts)
                durations[packet.pts] = packet.duration or 0
        except av.error.FFmpegError as error:
            raise VideoError(f"{path}: reading packets failed ({error.__class__.__name__})") from error
        time_base = stream.time_base
    if not starts:
        raise VideoError(f"{path}: no video frame could be decoded (zero-length or broken video)")
    ticks = np.unique(np.asarray(starts, np.int64))
    times = ticks.astype(np.float64) * float(time_base) - origin_s
    last_ticks = durations[int(ticks[-1])]
    if last_ticks <= 0 and len(ticks) > 1:
        last_ticks = int(np.median(np.diff(ticks)))
    end_s = float(times[-1] + last_ticks * float(time_base)) if last_ticks > 0 else float(times[-1])
    return StreamTiming(frame_times_s=times, end_s=end_s)


def frame_luma(frame: av.VideoFrame, step: int = 8) -> float | None:
    """Mean luma (0..1) of a decoded frame from every ``step``-th sample of its luma plane, without
    converting it; None for a format without a luma plane (RGB)."""
    component = frame.format.components[0]
    if not component.is_luma:
        return None
    plane = frame.planes[component.plane]
    dtype = np.uint8 if component.bits <= 8 else np.uint16
    samples = np.frombuffer(plane, dtype).reshape(plane.height, -1)[::step, : plane.width : step]
    return float(samples.mean()) / ((1 << component.bits) - 1)
