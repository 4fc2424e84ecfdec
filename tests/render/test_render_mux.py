"""Tests of putting audio on a video without re-encoding the picture."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from diffbgm.render.audio import SAMPLE_RATE, Audio
from diffbgm.render.mux import MuxError, mux_audio, read_audio

FPS = 24
SECONDS = 3.0


def _synthesise_video(path: Path, with_tone: bool, first_frame: int = 0) -> None:
    """A moving white bar (H.264), optionally with a 440 Hz tone (AAC); the picture starts at frame
    ``first_frame`` of the clock."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="stereo") if with_tone else None
        for index in range(int(SECONDS * FPS)):
            image = np.zeros((96, 160, 3), np.uint8)
            image[:, (index * 4) % 150:(index * 4) % 150 + 10] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = first_frame + index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
            tone = np.repeat((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], 2, axis=0)
            for start in range(0, tone.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start:start + 1024]),
                                                   format="fltp", layout="stereo")
                frame.sample_rate, frame.pts = SAMPLE_RATE, start
                container.mux(audio.encode(frame))
            container.mux(audio.encode(None))


def _video_packets(path: Path) -> list[tuple[int, int, bytes]]:
    with av.open(str(path)) as container:
        return [(p.pts, p.dts, bytes(p)) for p in container.demux(container.streams.video[0]) if p.dts is not None]


@pytest.mark.parametrize("with_tone", [False, True])
def test_mux_copies_video_packets_and_matches_durations(tmp_path, with_tone):
    video = tmp_path / "in.mp4"
    _synthesise_video(video, with_tone)
    before = video.read_bytes()
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    music = Audio(np.repeat((0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)[:, None], 2, axis=1),
                  SAMPLE_RATE)
    output = mux_audio(video, music, tmp_path / "out.mp4")
    assert video.read_bytes() == before
    assert _video_packets(output) == _video_packets(video)
    with av.open(str(output)) as container:
        assert len(container.streams.audio) == 1
        assert container.streams.audio[0].codec_context.name == "aac"
    decoded = read_audio(output, SAMPLE_RATE)
    assert abs(decoded.duration_s - SECONDS) <= 1.0 / FPS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4", "out.mp4"]


def test_music_starts_with_a_late_first_frame(tmp_path):
    # A video-only file whose first frame comes 0.5 s after the clock's zero: the container (and the
    # analysis, diffbgm.video.decode) starts at that frame, so the music's time 0 must be there too.
    video = tmp_path / "late.mp4"
    _synthesise_video(video, with_tone=False, first_frame=FPS // 2)
    onset_s = 0.25
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.where(t >= onset_s, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)
    output = mux_audio(video, Audio(np.repeat(tone[:, None], 2, axis=1), SAMPLE_RATE), tmp_path / "out.mp4")
    with av.open(str(output)) as container:
        video_start_s = min(float(p.pts * p.time_base) for p in container.demux(video=0) if p.pts is not None)
    with av.open(str(output)) as container:
        heard_s = next(frame.time + int(np.argmax(np.abs(samples) > 0.25)) / frame.sample_rate
                       for frame in container.decode(audio=0)
                       if (np.abs(samples := frame.to_ndarray()[0]) > 0.25).any())
    assert video_start_s == pytest.approx(0.5, abs=1e-3)
    assert heard_s - video_start_s == pytest.approx(onset_s, abs=0.005)


def test_read_audio_of_silent_video_is_none_and_tone_is_found(tmp_path):
    silent, toned = tmp_path / "silent.mp4", tmp_path / "toned.mp4"
    _synthesise_video(silent, False)
    _synthesise_video(toned, True)
    assert read_audio(silent, SAMPLE_RATE) is None
    tone = read_audio(toned, SAMPLE_RATE)
    assert tone.samples.shape[1] == 2 and 0.25 < np.abs(tone.samples).max() < 0.35


def test_mux_failure_leaves_no_output(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(MuxError):
        mux_audio(bad, Audio(np.zeros((10, 2), np.float32), SAMPLE_RATE), tmp_path / "out.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_the_sample_buffer_grows_past_its_first_size():
    from diffbgm.render.mux import _SampleBuffer

    buffer = _SampleBuffer(3, 2)
    for k in range(5):
        buffer.append(np.full((2, 2), k, np.int16))
    assert buffer.samples.shape == (10, 2) and buffer.samples[::2, 1].tolist() == [0, 1, 2, 3, 4]


def test_the_music_survives_the_aac_encoding(tmp_path):
    # A piano phrase from the SoundFont: FFmpeg's two-loop AAC search leaves it at about 37 dB of
    # signal to noise at our bitrate, the fast search at about 52 dB (and in half the time).
    import pretty_midi

    from diffbgm.render.audio import synthesize

    midi = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    for index, pitch in enumerate([60, 64, 67, 72, 55, 59, 62, 67, 65, 69, 72, 53]):
        piano.notes.append(pretty_midi.Note(90, pitch, 0.25 * index, 0.25 * index + 1.0))
    midi.instruments.append(piano)
    music = synthesize(midi)
    video = tmp_path / "in.mp4"
    _synthesise_video(video, False)
    heard = read_audio(mux_audio(video, music, tmp_path / "out.mp4"), music.sample_rate)
    sent, got = music.samples.astype(np.float64), heard.samples.astype(np.float64)
    length = min(len(sent), len(got))
    noise = np.sum((sent[:length] - got[:length]) ** 2)
    assert 10 * np.log10(np.sum(sent[:length] ** 2) / noise) >= 45.0
