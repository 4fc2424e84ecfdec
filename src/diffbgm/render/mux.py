"""Put the music onto the video without re-encoding the picture (PyAV).

Video packets are copied with their timestamps; the audio is encoded to AAC (or the container's
usual audio codec) and lasts as long as the video.
"""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from diffbgm.atomic import atomic_output
from diffbgm.render.audio import Audio

AUDIO_CODECS = {".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".mkv": "aac", ".webm": "libopus"}
AUDIO_BITRATE = 192_000
# FFmpeg's own AAC encoder with its "fast" quantiser search: at high bitrates it sounds better than the
# two-loop search and needs half the CPU (FFmpeg commit fcb681ac, "aacenc: use the fast coder as the
# default"); the measured difference is in docs/speed.md.
AUDIO_CODEC_OPTIONS = {"aac": {"aac_coder": "fast"}}


class MuxError(RuntimeError):
    """The video could not be read or the result could not be written."""


def read_audio(path: str | Path, sample_rate: int, channels: int = 2) -> Audio | None:
    """Decode a file's first audio stream to int16 PCM at ``sample_rate``; ``None`` if it has none.

    The samples go into one buffer sized from the container's duration (grown if the stream is
    longer), so that a long sound track is never held twice.
    """
    layout = {1: "mono", 2: "stereo"}[channels]
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            expected_s = container.duration / av.time_base if container.duration else 0.0
            buffer = _SampleBuffer(int(expected_s * sample_rate) + sample_rate, channels)
            resampler = av.AudioResampler(format="s16", layout=layout, rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    buffer.append(out.to_ndarray().reshape(-1, channels))
            for out in resampler.resample(None):
                buffer.append(out.to_ndarray().reshape(-1, channels))
    except av.error.FFmpegError as error:
        raise MuxError(f"cannot read the audio of {path}: {error}") from None
    return Audio(buffer.samples, sample_rate)


class _SampleBuffer:
    """int16 frames appended into a preallocated array that grows by half when full."""

    def __init__(self, capacity: int, channels: int) -> None:
        self._data = np.zeros((max(1, capacity), channels), np.int16)
        self._filled = 0

    def append(self, frames: np.ndarray) -> None:
        end = self._filled + len(frames)
        if end > len(self._data):
            grown = np.zeros((max(end, len(self._data) * 3 // 2), self._data.shape[1]), np.int16)
            grown[:self._filled] = self._data[:self._filled]
            self._data = grown
        self._data[self._filled:end] = frames
        self._filled = end

    @property
    def samples(self) -> np.ndarray:
        return self._data[:self._filled]


def check_copyable(video_path: str | Path, output_path: str | Path) -> None:
    """:class:`MuxError` unless the video stream of ``video_path`` can be copied into ``output_path``'s
    container (a GIF or VP8 stream does not go into an MP4): checked before any work is done."""
    output_path = Path(output_path)
    if not _takes_stream_of(video_path, _format_of(output_path)):
        advice = ("write -o as .mkv" if _takes_stream_of(video_path, "matroska")
                  else "convert the video to H.264 first")
        raise MuxError(f"the picture of {Path(video_path).name} cannot be copied into a {output_path.suffix} file "
                       f"without re-encoding; {advice}")


def _takes_stream_of(video_path: str | Path, container_format: str) -> bool:
    """Whether a ``container_format`` file can hold the video stream of ``video_path`` as it is."""
    try:
        with av.open(str(video_path)) as source, av.open(io.BytesIO(), "w", format=container_format) as target:
            if source.streams.video:
                target.add_stream_from_template(source.streams.video[0])
    except (ValueError, av.error.FFmpegError):
        return False
    return True


def _format_of(path: Path) -> str:
    """FFmpeg's muxer name for an output suffix (``.m4v`` and ``.mov`` are MP4's family)."""
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}.get(path.suffix.lower(), "mp4")


def mux_audio(video_path: str | Path, audio: Audio, output_path: str | Path,
              bitrate: int = AUDIO_BITRATE) -> Path:
    """Write ``output_path``: the video stream of ``video_path`` copied as is, with ``audio`` as its sound.

    The music's time 0 is the source container's start, the origin of the analysis' times
    (:mod:`diffbgm.video.decode`), so that a source whose first frame comes late stays in step. The
    output is written to a temporary file beside ``output_path`` and renamed when complete.
    """
    output_path = Path(output_path)
    codec = AUDIO_CODECS.get(output_path.suffix.lower(), "aac")
    try:
        with av.open(str(video_path)) as source, atomic_output(output_path) as temp:
            if not source.streams.video:
                raise MuxError(f"{video_path} has no video stream")
            video_in = source.streams.video[0]
            with av.open(str(temp), "w") as target:
                video_out = target.add_stream_from_template(video_in)
                audio_out = target.add_stream(codec, rate=audio.sample_rate, layout="stereo")
                audio_out.bit_rate = bitrate
                audio_out.codec_context.options = dict(AUDIO_CODEC_OPTIONS.get(codec, {}))
                for packet in source.demux(video_in):
                    if packet.dts is None:  # the demuxer's end-of-stream marker
                        continue
                    packet.stream = video_out
                    target.mux(packet)
                start_s = source.start_time / av.time_base if source.start_time is not None else 0.0
                _encode_audio(target, audio_out, audio, round(start_s * audio.sample_rate))
    except (ValueError, av.error.FFmpegError) as error:
        raise MuxError(f"cannot mux {video_path} into {output_path}: {error}") from None
    return output_path


def _encode_audio(target: av.container.OutputContainer, stream: av.audio.stream.AudioStream, audio: Audio,
                  first_sample: int = 0) -> None:
    frame_size = stream.codec_context.frame_size or 1024
    for start, piece in audio.chunks(frame_size):
        if piece.shape[1] == 1:
            piece = np.repeat(piece, 2, axis=1)
        planar = np.ascontiguousarray(np.clip(piece, -1.0, 1.0).T, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(planar, format="fltp", layout="stereo")
        frame.sample_rate = audio.sample_rate
        frame.pts = first_sample + start
        frame.time_base = Fraction(1, audio.sample_rate)
        target.mux(stream.encode(frame))
    target.mux(stream.encode(None))
