"""Decoding: the analysis grid, containers, rotation, variable frame rate, delayed start, bad files."""

from __future__ import annotations

import itertools

import av
import numpy as np
import pytest
from synth import CODECS, solid, write_audio, write_empty_video, write_video

from diffbgm.video.decode import (
    VideoError,
    analysis_size,
    frame_luma,
    iter_frames,
    probe_video,
    stream_timing,
)

RED, BLUE = (230, 20, 20), (20, 20, 230)


def _is(rgb: np.ndarray, colour) -> bool:
    return bool(np.abs(rgb.reshape(-1, 3).mean(0) - np.asarray(colour)).max() < 20)


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_containers_give_the_grid_and_the_colours(tmp_path, suffix):
    frames = itertools.chain(solid(RED, 24), solid(BLUE, 24))  # 1 s red, 1 s blue at 24 fps
    path = write_video(tmp_path / f"v{suffix}", frames, fps=24, audio_s=2.0 if suffix != ".avi" else 0.0)
    decoded = list(iter_frames(path, fps=8, max_side=80))
    assert 16 <= len(decoded) <= 17
    assert [f.time_s for f in decoded[:3]] == [0.0, 0.125, 0.25]
    assert decoded[0].rgb.shape == (60, 80, 3) and decoded[0].rgb.dtype == np.uint8
    colours = ["red" if _is(f.rgb, RED) else "blue" if _is(f.rgb, BLUE) else "?" for f in decoded[:16]]
    assert colours == ["red"] * 8 + ["blue"] * 8


def test_probe_reports_geometry_and_audio(tmp_path):
    path = write_video(tmp_path / "v.mp4", solid(RED, 12, (90, 50)), fps=24)
    info = probe_video(path)
    assert (info.width, info.height, info.rotation, info.has_audio) == (90, 50, 0, False)
    assert info.fps == pytest.approx(24.0) and info.duration_s == pytest.approx(0.5, abs=0.05)


def test_odd_size_is_scaled_to_even_and_never_upscaled():
    assert analysis_size(1281, 721, 256) == (256, 144)
    assert analysis_size(99, 51, 256) == (100, 52)


def test_rotation_metadata_turns_the_frames_upright(tmp_path):
    frame = np.zeros((60, 80, 3), np.uint8)
    frame[:, :40] = RED  # stored: red on the left, blue on the right
    frame[:, 40:] = BLUE
    path = write_video(tmp_path / "phone.mp4", [frame] * 8, fps=8, rotation=90)
    info = probe_video(path)
    assert (info.rotation, info.width, info.height) == (90, 60, 80)
    rgb = next(iter(iter_frames(path, fps=8))).rgb
    assert rgb.shape == (80, 60, 3)
    # A 90-degree counter-clockwise turn puts the stored left edge at the bottom.
    assert _is(rgb[50:], RED) and _is(rgb[:30], BLUE)


def test_variable_frame_rate_uses_timestamps(tmp_path):
    # Irregular frame times; the picture changes from red to blue at 1.3 s.
    times = [0.0, 0.05, 0.4, 0.45, 0.9, 1.3, 1.31, 1.7, 2.0]
    frames = [RED if t < 1.3 else BLUE for t in times]
    path = write_video(tmp_path / "vfr.mkv", [np.full((48, 64, 3), c, np.uint8) for c in frames], times_s=times)
    decoded = list(iter_frames(path, fps=10))
    first_blue = next(f.time_s for f in decoded if _is(f.rgb, BLUE))
    assert first_blue == pytest.approx(1.3)
    assert all(_is(f.rgb, RED) for f in decoded if f.time_s < 1.3)


def test_delayed_first_frame_fills_the_start(tmp_path):
    frames = itertools.chain(solid(RED, 12), solid(BLUE, 12))
    path = write_video(tmp_path / "late.mp4", frames, fps=24, start_s=0.5, audio_s=1.5)
    decoded = list(iter_frames(path, fps=8))
    assert decoded[0].time_s == 0.0 and len(decoded) == 12  # 1.5 s at 8 fps
    assert [_is(f.rgb, BLUE) for f in decoded] == [False] * 8 + [True] * 4


def test_error_on_a_file_that_is_not_a_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(VideoError, match="not a video"):
        list(iter_frames(path))


def test_error_on_an_empty_file(tmp_path):
    path = tmp_path / "empty.mkv"
    path.write_bytes(b"")
    with pytest.raises(VideoError, match="empty"):
        probe_video(path)


def test_error_on_audio_only(tmp_path):
    with pytest.raises(VideoError, match="only audio"):
        list(iter_frames(write_audio(tmp_path / "song.m4a", 1.0)))


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_error_on_a_zero_length_video(tmp_path, suffix):
    with pytest.raises(VideoError):
        list(iter_frames(write_empty_video(tmp_path / f"zero{suffix}")))


@pytest.mark.parametrize("threads", [0, 1])
@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm", ".avi"])
def test_error_on_a_truncated_file(tmp_path, suffix, threads):
    # One decoder thread (--threads 1) stops with an FFmpeg error at the damage where several end
    # quietly: the file is called truncated either way.
    full = write_video(tmp_path / f"full{suffix}", itertools.chain(solid(RED, 48), solid(BLUE, 48)), fps=24)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoError, match="truncated"):
        list(iter_frames(cut, threads=threads))


def test_stream_timing_undoes_b_frame_reordering(tmp_path):
    # x264 with B-frames stores frames out of presentation order (and MP4 shifts them by an edit list).
    path = tmp_path / "bframes.mp4"
    n = 45
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=24, options={"preset": "medium", "bf": "3"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (i * 5) % 256, np.uint8), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    timing = stream_timing(path)
    assert timing.frame_times_s.tolist() == pytest.approx([i / 24 for i in range(n)])
    assert timing.end_s == pytest.approx(n / 24)
    assert timing.nearest(0.05) == pytest.approx(1 / 24) and timing.after_nearest(0.05) == pytest.approx(2 / 24)


def test_frame_luma_reads_the_luma_plane():
    rgb = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 200, np.uint8), format="rgb24")
    assert frame_luma(rgb) is None
    for name in ("yuv420p", "nv12", "yuv420p10le"):
        assert frame_luma(rgb.reformat(format=name)) == pytest.approx((16 + 200 * 219 / 255) / 255, abs=0.01)


@pytest.mark.parametrize("suffix", sorted(CODECS))
def test_stream_timing_in_every_container(tmp_path, suffix):
    frames = itertools.chain(solid(RED, 25), solid(BLUE, 25))  # 50 frames: 2.083 s, not on the 1/8-s grid
    timing = stream_timing(write_video(tmp_path / f"v{suffix}", frames, fps=24))
    assert len(timing.frame_times_s) == 50
    assert timing.end_s == pytest.approx(50 / 24, abs=0.002)  # WebM and MKV keep milliseconds


def test_the_threads_option_reaches_the_decoder(tmp_path, monkeypatch):
    # --threads N set torch's and OpenCV's threads but left FFmpeg one decoder thread per core.
    from diffbgm.cli.environment import set_threads
    from diffbgm.video import decode

    monkeypatch.setattr(decode, "_decoder_threads", 0)
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch, "set_num_threads", lambda n: None)
    opened = []
    real_open = decode.video_stream_of

    def recording(container, path):
        stream = real_open(container, path)
        opened.append(stream)
        return stream

    monkeypatch.setattr(decode, "video_stream_of", recording)
    path = write_video(tmp_path / "clip.mp4", solid((10, 200, 30), 12, (64, 48)), fps=12)
    set_threads(1)
    assert decode.decoder_threads() == 1
    frames = list(decode.iter_frames(path, fps=4.0))
    assert len(frames) == 4 and opened[-1].thread_count == 1  # the stream decoded (the first is the probe)
