"""Tests of MIDI -> audio: synthesis, exact length, fade, mix, levels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.render.audio import (
    SAMPLE_RATE,
    Audio,
    SynthesisError,
    bundled_soundfont,
    choose_soundfont,
    db_to_gain,
    fit_to_duration,
    mix,
    parse_level,
    render_audio,
    synthesize,
    write_wav,
)
from diffbgm.render.midi import render_midi


def _late_start_midi():
    # Fixed 100 BPM with the grid shifted to 1.3 s: the first note sounds at 1.3 s, not at 0.
    plan = plan_timing(6.0, [1.3], TimingConfig(bpm=100.0))
    roll = PianoRoll.from_notes([Note(60 + 4 * i, 4 * i, 4) for i in range(6)], n_steps=32)
    return plan, render_midi(roll, plan)


def test_bundled_soundfont_exists():
    assert bundled_soundfont().is_file() and bundled_soundfont().stat().st_size > 1_000_000


def test_synthesis_is_stereo_48k_and_follows_the_midi_timing():
    plan, pm = _late_start_midi()
    audio = synthesize(pm)
    assert audio.sample_rate == SAMPLE_RATE and audio.samples.shape[1] == 2
    envelope = np.abs(audio.samples).max(axis=1)
    first_sound = np.argmax(envelope > 0.01 * envelope.max()) / SAMPLE_RATE
    assert first_sound == pytest.approx(plan.beats_s[0], abs=0.03)
    assert audio.duration_s == pytest.approx(pm.get_end_time(), abs=0.1)


def test_render_audio_has_exactly_the_video_length_and_fades_out():
    _, pm = _late_start_midi()
    for duration in (2.5, 6.0, 9.37):
        audio = render_audio(pm, duration, fade_s=0.5)
        assert audio.samples.shape == (int(round(duration * SAMPLE_RATE)), 2)
        assert np.abs(audio.samples[-1]).max() == 0.0
    assert np.abs(render_audio(pm, 6.0).samples).max() == pytest.approx(db_to_gain(-3.0), rel=1e-3)


def test_fit_pads_with_silence():
    audio = Audio(np.ones((100, 2), np.float32), 100)
    fitted = fit_to_duration(audio, 2.0, fade_s=0.0)
    assert fitted.samples.shape == (200, 2)
    assert fitted.samples[:100].min() == 1.0 and fitted.samples[100:].max() == 0.0


def test_mix_adds_the_original_at_its_gain():
    music = Audio(np.zeros((10, 2), np.float32), 10)
    original = Audio(np.full((5, 1), 0.5, np.float32), 10)
    mixed = mix(music, original, 0.5)
    np.testing.assert_allclose(mixed.samples[:5], np.tanh(0.25))
    np.testing.assert_allclose(mixed.samples[5:], 0.0)


def test_parse_level():
    assert parse_level("-6dB") == pytest.approx(0.501, abs=1e-3)
    assert parse_level("0.25") == 0.25
    with pytest.raises(ValueError, match="neither decibels"):
        parse_level("loud")


def test_write_wav_round_trips(tmp_path):
    import wave

    audio = Audio(np.linspace(-0.5, 0.5, 200, dtype=np.float32).reshape(100, 2), 8000)
    path = write_wav(audio, tmp_path / "music.wav")
    with wave.open(str(path)) as reader:
        assert (reader.getnchannels(), reader.getframerate(), reader.getnframes()) == (2, 8000, 100)
    assert [p.name for p in tmp_path.iterdir()] == ["music.wav"]


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="Debian's fluidsynth command is not installed")
def test_fluidsynth_command_renders_a_user_soundfont_in_time(tmp_path, monkeypatch):
    soundfont = tmp_path / "gm.sf2"
    shutil.copy(bundled_soundfont(), soundfont)
    commands = []
    run = subprocess.run

    def recording_run(command, *args, **kwargs):
        commands.append(command)
        return run(command, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    plan, pm = _late_start_midi()
    audio = synthesize(pm, soundfont)
    assert len(commands) == 1 and Path(commands[0][0]).name == "fluidsynth"
    assert audio.sample_rate == SAMPLE_RATE and audio.samples.shape[1] == 2
    envelope = np.abs(audio.samples).max(axis=1)
    first_sound = np.argmax(envelope > 0.01 * envelope.max()) / SAMPLE_RATE
    assert first_sound == pytest.approx(plan.beats_s[0], abs=0.03)
    assert audio.duration_s == pytest.approx(pm.get_end_time(), abs=0.01)
    reference = synthesize(pm, bundled_soundfont())  # the same SoundFont through midirenderer
    n = min(len(audio.samples), len(reference.samples))
    loudness = [np.convolve(np.abs(a.samples[:n, 0]), np.ones(2400) / 2400, "valid")[::2400] for a in (audio, reference)]
    assert np.corrcoef(*loudness)[0, 1] > 0.9


def test_a_missing_fluidsynth_falls_back_to_midirenderer(tmp_path, monkeypatch):
    soundfont = tmp_path / "gm.sf2"
    shutil.copy(bundled_soundfont(), soundfont)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("no command may run"))
    _, pm = _late_start_midi()
    assert synthesize(pm, soundfont).duration_s == pytest.approx(pm.get_end_time(), abs=0.1)


def test_a_system_soundfont_is_chosen_without_the_fluidsynth_command(tmp_path, monkeypatch):
    import diffbgm.render.audio as audio_module

    compressed, plain = tmp_path / "sf3" / "MuseScore_General.sf3", tmp_path / "sf2" / "FluidR3_GM.sf2"
    for path in (compressed, plain):
        path.parent.mkdir()
        shutil.copy(bundled_soundfont(), path)
    monkeypatch.setattr(audio_module, "SYSTEM_SOUNDFONTS", (tmp_path / "absent.sf2", compressed, plain))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    # midirenderer reads SoundFont 2 only: the .sf3 waits for the fluidsynth command.
    assert choose_soundfont() == plain
    assert choose_soundfont(compressed) == compressed  # the user's choice is theirs
    monkeypatch.setattr(shutil, "which", lambda name: f"/usr/bin/{name}")
    assert choose_soundfont() == compressed
    monkeypatch.setattr(audio_module, "SYSTEM_SOUNDFONTS", (tmp_path / "absent.sf2",))
    assert choose_soundfont() == bundled_soundfont()


def test_a_system_soundfont_that_cannot_be_rendered_falls_back_to_the_bundled_one(tmp_path, monkeypatch, caplog):
    import diffbgm.render.audio as audio_module

    broken = tmp_path / "FluidR3_GM.sf2"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00sfbk" + bytes(64))
    monkeypatch.setattr(audio_module, "SYSTEM_SOUNDFONTS", (broken,))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    _, pm = _late_start_midi()
    with caplog.at_level("WARNING", logger="diffbgm.render.audio"):
        audio = synthesize(pm)
    assert str(broken) in caplog.text and "pretty_midi's SoundFont" in caplog.text
    assert np.array_equal(audio.samples, synthesize(pm, bundled_soundfont()).samples)
    with pytest.raises(SynthesisError, match="cannot render"):
        synthesize(pm, broken)  # a SoundFont the user named is not replaced
