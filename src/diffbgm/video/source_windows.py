"""Short windows of a video decoded again at its own frame rate, to place cuts on their exact frame."""

from __future__ import annotations

import math
from pathlib import Path

import av

from diffbgm.video.decode import Frame, open_container, video_stream_of, analysis_size, decoder_threads


class SourceWindows:
    """Decode short windows of a video at its own frame rate (seeking to the keyframe before each).

    Used to place cuts on the exact source frame after detection on the coarse analysis grid; only
    the frames inside a window are converted, small (``max_side``) and without rotation (the
    callers compare frames with each other, which a rotation does not change).
    """

    def __init__(self, path: str | Path, max_side: int = 96):
        self._path = Path(path)
        self._container = open_container(self._path)
        self._stream = video_stream_of(self._container, self._path)
        self._stream.thread_type = "AUTO"
        self._stream.thread_count = decoder_threads()
        start = self._container.start_time
        self._origin_s = start / av.time_base if start is not None else 0.0
        self._max_side = max_side

    def __enter__(self) -> SourceWindows:
        return self

    def __exit__(self, *exc) -> None:
        self._container.close()

    def read(self, start_s: float, end_s: float) -> list[Frame]:
        """The source frames shown between ``start_s`` and ``end_s`` (s from the container's start),
        including the one already on screen at ``start_s``; ``Frame.index`` counts within the window."""
        for back_s in (0.0, 2.0, math.inf):
            frames = self._decode(start_s, end_s, back_s)
            if frames and (frames[0].time_s <= start_s + 1e-6 or back_s == math.inf):
                return frames
        return frames

    def _decode(self, start_s: float, end_s: float, back_s: float) -> list[Frame]:
        stream = self._stream
        target_s = max(0.0, start_s - back_s) if back_s != math.inf else 0.0
        try:
            self._container.seek(int((target_s + self._origin_s) / stream.time_base), stream=stream, backward=True)
        except av.error.FFmpegError:
            self._container.seek(0, stream=stream, backward=True)
        frames: list[Frame] = []
        before: av.VideoFrame | None = None
        before_time = -math.inf
        size: tuple[int, int] | None = None
        try:
            for frame in self._container.decode(stream):
                if frame.pts is None:
                    continue
                time_s = float(frame.pts * frame.time_base) - self._origin_s
                if time_s <= start_s + 1e-9:
                    if time_s > before_time:
                        before, before_time = frame, time_s
                    continue
                if time_s > end_s:
                    break
                if size is None:
                    size = analysis_size(frame.width, frame.height, self._max_side)
                if before is not None:
                    frames.append(self._convert(before, before_time, size))
                    before = None
                if frames and time_s <= frames[-1].time_s:
                    continue
                frames.append(self._convert(frame, time_s, size))
        except av.error.FFmpegError as error:
            raise VideoError(f"{self._path}: decoding failed near {start_s:.2f} s ({error})") from error
        if before is not None:
            size = size or analysis_size(before.width, before.height, self._max_side)
            frames.append(self._convert(before, before_time, size))
        return [Frame(i, f.time_s, f.rgb) for i, f in enumerate(frames)]

    @staticmethod
    def _convert(frame: av.VideoFrame, time_s: float, size: tuple[int, int]) -> Frame:
        rgb = frame.reformat(width=size[0], height=size[1], format="rgb24", interpolation="AREA").to_ndarray()
        return Frame(0, time_s, rgb)
