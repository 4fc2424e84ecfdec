"""What the commands show: progress by stage and window, -q and -v, help texts, and --keep-audio's files."""

from __future__ import annotations

import dataclasses
import io
import re
import wave

import numpy as np
import pytest
from click.testing import CliRunner
from scoring_helpers import three_shot_video, tiny_checkpoint

from diffbgm.cli import cli
from diffbgm.cli.terminal import StageBar, shows_bars
from diffbgm.conditions.from_video import window_spans
from diffbgm.music.grid import BEATS_PER_BAR, WINDOW_BEATS
from diffbgm.pipeline.options import GenerationOptions
from diffbgm.pipeline.scoring import ScoringPipeline

STAGES = ["analyze", "timing", "conditions", "diffusion", "midi", "audio"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("terminal")
    return {"model": tiny_checkpoint(folder / "tiny.safetensors"), "video": three_shot_video(folder / "clip.mp4")}


@pytest.fixture(scope="module")
def pipeline(files):
    return ScoringPipeline.from_checkpoint(files["model"])


def test_the_stage_bar_draws_stages_and_windows_only_when_enabled(capsys):
    with StageBar("clip.mp4", enabled=True) as bar:
        bar("analyze", 0, 1)
        bar("analyze", 1, 1)
        bar("diffusion", 2, 3)
    drawn = capsys.readouterr().err
    assert "clip.mp4: analyze" in drawn and "clip.mp4: diffusion windows" in drawn and "2/3" in drawn
    with StageBar("clip.mp4", enabled=False) as bar:
        bar("diffusion", 1, 3)
    assert capsys.readouterr().err == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal_and_never_when_quiet(monkeypatch):
    monkeypatch.setattr("sys.stderr", _Terminal())
    assert shows_bars(quiet=False) and not shows_bars(quiet=True)
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert not shows_bars(quiet=False)


@pytest.mark.parametrize("command", [[], ["generate"], ["analyze"], ["data"], ["data", "pop909"]])
def test_help_texts_are_whole_and_say_each_default_once(command):
    text = CliRunner().invoke(cli, [*command, "--help"], terminal_width=100).output
    assert "(dynamic)" not in text
    flat = " ".join(text.split())
    assert not re.search(r"\[default: [^\]]*\]\s*\[default:", flat), flat
    # Command summaries are whole sentences, not cut off by click.
    assert not [line for line in text.splitlines() if line.rstrip().endswith("...") and "Usage" not in line]


def test_progress_follows_the_stages_and_the_windows_and_keep_audio_leaves_the_wav_alone(pipeline, files, tmp_path):
    calls = []
    options = GenerationOptions(steps=1, seed=4)
    music = pipeline.generate(files["video"], options, progress=lambda *call: calls.append(call))
    stages = list(dict.fromkeys(stage for stage, _, _ in calls))
    assert stages == STAGES and list(music.timings_s) == STAGES
    for stage in stages:
        mine = [(done, total) for name, done, total in calls if name == stage]
        assert mine[0][0] == 0 and mine[-1][0] == mine[-1][1], (stage, mine)
    windows = [(done, total) for name, done, total in calls if name == "diffusion"][1:]
    n_windows = len(window_spans(music.plan.n_beats, WINDOW_BEATS, options.overlap_bars * BEATS_PER_BAR))
    assert windows == [(index, n_windows) for index in range(1, n_windows + 1)]

    mixed = pipeline.generate(files["video"], dataclasses.replace(options, keep_audio="0dB"))
    # The music is the same; only the scored video's soundtrack has the video's own sound in it.
    assert np.array_equal(mixed.music_only.samples, music.audio.samples)
    assert np.abs(mixed.audio.samples - mixed.music_only.samples).mean() > 0.01
    mixed.save(tmp_path / "out.mp4")
    with wave.open(str(tmp_path / "out.wav")) as reader:
        pcm = np.frombuffer(reader.readframes(reader.getnframes()), dtype="<i2").reshape(-1, reader.getnchannels())
    wav = pcm.astype(np.float32) / 32767.0
    assert np.abs(wav - mixed.music_only.samples).max() < 1e-3
    assert np.abs(wav - mixed.audio.samples).mean() > 0.01


def test_verbose_details_and_quiet(files, tmp_path):
    common = ["generate", str(files["video"]), "--model", str(files["model"]), "--steps", "1", "--no-cache"]
    result = CliRunner().invoke(cli, [*common, "-o", str(tmp_path / "v.mp4"), "-v"])
    assert result.exit_code == 0, result.output
    assert "cuts: 2.00, 4.00 s" in result.stdout and "stages: analyze" in result.stdout and "BPM" in result.stdout
    # Not a terminal: no bar; and the libraries' own bars and warnings are not the user's business.
    assert "diffusion windows" not in result.output and "Loading weights" not in result.output
    result = CliRunner().invoke(cli, [*common, "-o", str(tmp_path / "q.mp4"), "-q"])
    assert result.exit_code == 0 and result.output == "" and (tmp_path / "q.mp4").is_file()
