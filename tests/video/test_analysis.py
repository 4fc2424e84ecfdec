"""analyze_video end to end on a synthetic video; save/load, cache, user overrides, timeline, CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from synth import solid, write_audio, write_empty_video, write_video

from diffbgm.cli import cli
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.conditions.user_text import apply_user_text
from diffbgm.music.mood import Mood
from diffbgm.video.analysis import AnalysisConfig, VideoAnalysis, _interpolate_in_shots, analyze_video
from diffbgm.video.dynamics import FEATURE_NAMES
from diffbgm.video.image_model import EfficientNetLite0Encoder
from diffbgm.video.timeline import draw_timeline

CONFIG = AnalysisConfig(fps=8.0, max_side=160)


class CountingEncoder:
    """The real encoder, counting the frames it embeds."""

    def __init__(self, encoder):
        self.encoder, self.frames = encoder, 0

    def embed(self, frames):
        self.frames += len(frames)
        return self.encoder.embed(frames)

    def top_labels(self, rows, k):
        return self.encoder.top_labels(rows, k)


@pytest.fixture(scope="module")
def encoder():
    return EfficientNetLite0Encoder(device="cpu")


@pytest.fixture(scope="module")
def analysis(cut_video, encoder) -> VideoAnalysis:
    return analyze_video(cut_video, CONFIG, progress=False, encoder=encoder)


def test_analysis_fields_are_aligned(analysis):
    n = 40  # 5 s at 8 fps
    assert analysis.duration_s == pytest.approx(5.0, abs=0.05)
    assert (analysis.width, analysis.height, analysis.fps) == (160, 120, 24.0)
    assert analysis.frame_times.shape == (n,) and analysis.frame_times[1] == pytest.approx(0.125)
    assert tuple(analysis.features) == FEATURE_NAMES
    assert all(values.shape == (n,) for values in analysis.features.values())
    assert analysis.image_embeddings.shape == (n, 1280) and analysis.image_embeddings.dtype == np.float32
    assert len(analysis.shots) == len(analysis.shot_captions) == len(analysis.shot_moods) == 4
    assert all(isinstance(m, Mood) for m in analysis.shot_moods)
    assert all(isinstance(c, str) and c for c in analysis.shot_captions)


def test_cuts_found_within_one_frame_and_flagged(analysis):
    assert np.allclose(analysis.cuts_s, [1.0, 2.0, 3.5], atol=1 / CONFIG.fps)
    flagged = analysis.frame_times[analysis.features["cut"] == 1]
    assert np.allclose(flagged, analysis.cuts_s)


def test_motion_is_higher_in_the_moving_shot(analysis):
    shot = analysis.shot_index()
    motion = analysis.features["motion"]
    assert motion[shot == 2].mean() > 5 * max(motion[shot == 0].mean(), motion[shot == 3].mean(), 1e-4)


def test_embeddings_differ_between_shots_not_within(analysis):
    e = analysis.image_embeddings
    assert np.abs(e[2] - e[5]).max() < 1e-3 < np.abs(e[2] - e[34]).max()  # shot 0 still vs shot 3


def test_interpolation_stays_inside_shots():
    samples = np.array([[0.0], [4.0], [10.0]], np.float32)  # at frames 0, 4, 8
    shot = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])  # a cut at frame 6
    out = _interpolate_in_shots(np.array([0, 4, 8]), samples, shot)[:, 0]
    assert out.tolist() == [0, 1, 2, 3, 4, 4, 10, 10, 10, 10]


def test_save_load_round_trip(analysis, tmp_path):
    analysis.save(tmp_path)
    meta = json.loads((tmp_path / "analysis.json").read_text())
    assert meta["shots"][0]["start_s"] == 0.0 and "caption" in meta["shots"][0] and "mood" in meta["shots"][0]
    loaded = VideoAnalysis.load(tmp_path)
    assert loaded.cuts_s == analysis.cuts_s and loaded.shots == [tuple(s) for s in analysis.shots]
    assert loaded.shot_captions == analysis.shot_captions and loaded.shot_moods == analysis.shot_moods
    assert np.array_equal(loaded.image_embeddings, analysis.image_embeddings)
    assert all(np.array_equal(loaded.features[k], analysis.features[k]) for k in FEATURE_NAMES)


def test_second_run_comes_from_the_cache(cut_video, encoder, tmp_path):
    counting = CountingEncoder(encoder)
    first = analyze_video(cut_video, CONFIG, progress=False, cache_dir=tmp_path, encoder=counting)
    embedded = counting.frames
    assert embedded == 10  # every 4th of 40 frames at embed_fps=2
    second = analyze_video(cut_video, CONFIG, progress=False, cache_dir=tmp_path, encoder=counting)
    assert counting.frames == embedded
    assert second.cuts_s == first.cuts_s and np.array_equal(second.features["motion"], first.features["motion"])
    analyze_video(cut_video, AnalysisConfig(fps=4.0, max_side=160), progress=False, cache_dir=tmp_path, encoder=counting)
    assert counting.frames > embedded  # another config is another entry
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith(".")]) == 2


def test_user_cuts_captions_and_mood(cut_video, encoder):
    analysis = analyze_video(cut_video, CONFIG, progress=False, encoder=encoder, cuts=[2.5])
    assert analysis.shots == [(0.0, 2.5), (2.5, pytest.approx(5.0, abs=0.05))]
    assert analysis.features["cut"].nonzero()[0].tolist() == [20]
    embedder = SentenceEmbedder()
    result = apply_user_text(analysis, embedder, captions=["a beach", "a city"], mood="calm, warm")
    assert result.shot_captions == ["a beach", "a city"]
    assert result.shot_moods[0] == result.shot_moods[1] and result.shot_moods[0].arousal < 0
    assert analysis.shot_captions != result.shot_captions  # the analysis itself is left as it was
    with pytest.raises(ValueError, match="2 shots"):
        apply_user_text(analysis, embedder, captions=["one", "two", "three"])
    # Without mood words, the captions set the shots' moods (a --caption used to change nothing).
    captioned = apply_user_text(analysis, embedder, captions=["a funeral, grief and tears", "a joyful party"])
    assert captioned.shot_moods[0].valence < 0 < captioned.shot_moods[1].valence
    assert apply_user_text(analysis, embedder, captions="a funeral, grief and tears").shot_moods[1].valence < 0


def test_timeline_picture(analysis, tmp_path):
    path = draw_timeline(analysis, tmp_path / "timeline.png")
    with Image.open(path) as image:
        assert image.size == (1400, 470) and image.mode in ("RGBA", "RGB")
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # thumbnails and curves were drawn
    # The captions are drawn under the thumbnails, and nowhere else.
    uncaptioned = dataclasses.replace(analysis, shot_captions=[""] * len(analysis.shots))
    with Image.open(draw_timeline(uncaptioned, tmp_path / "uncaptioned.png")) as image:
        changed_rows = np.flatnonzero(np.abs(np.asarray(image.convert("RGB")).astype(int) - pixels).sum(axis=(1, 2)))
    assert len(changed_rows) > 5 and 150 < changed_rows.min() and changed_rows.max() < 220
    # The mood words are drawn in their own colour (matplotlib's tab:purple), in the same row.
    purple = np.flatnonzero((np.abs(pixels - (148, 103, 189)).sum(axis=2) < 60).any(axis=1))
    assert len(purple) > 2 and 150 < purple.min() and purple.max() < 220


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_writes_the_analysis_folder(cut_video, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    before = _digest(cut_video)
    (tmp_path / "cuts.csv").write_text("cut_s\n1.0\n2.0\n3.5\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["analyze", str(cut_video), "--out", str(out), "--fps", "8",
                                      "--cuts", str(tmp_path / "cuts.csv"), "--mood", "calm, warm"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["analysis.json", "features.npz", "timeline.png"]
    assert json.loads((out / "analysis.json").read_text())["cuts_s"] == [1.0, 2.0, 3.5]
    assert _digest(cut_video) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_rewrites_an_analysis_folder_without_touching_anything_else(cut_video, tmp_path, monkeypatch):
    # A folder holding the user's video, their notes and an earlier analysis: only the analysis changes.
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = tmp_path / "project"
    folder.mkdir()
    video = folder / "clip.mp4"
    video.write_bytes(cut_video.read_bytes())
    (folder / "analysis.json").write_text("{}")
    (folder / "notes.txt").write_text("keep me")
    result = CliRunner().invoke(cli, ["analyze", str(video), "--out", str(folder)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == ["analysis.json", "clip.mp4", "features.npz", "notes.txt",
                                                         "timeline.png"]
    assert (folder / "notes.txt").read_text() == "keep me" and _digest(video) == _digest(cut_video)
    assert json.loads((folder / "analysis.json").read_text())["cuts_s"]
    assert oct(folder.stat().st_mode & 0o777) != oct(0o700)


def _bad_inputs(tmp_path):
    text = tmp_path / "text.mp4"
    text.write_text("hello\n" * 100)
    full = write_video(tmp_path / "full.mkv", solid((200, 30, 30), 96), fps=24)
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return {
        "not a video": text,
        "truncated": truncated,
        "zero-length": write_empty_video(tmp_path / "zero.mp4"),
        "audio only": write_audio(tmp_path / "song.m4a", 1.0),
    }


def test_cli_bad_inputs_fail_cleanly(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for kind, path in _bad_inputs(tmp_path).items():
        before = _digest(path)
        out = tmp_path / f"out-{path.stem}"
        result = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(out)])
        assert result.exit_code == 1, (kind, result.output)
        # The progress bar (stderr, cleared when done) is not part of the message.
        lines = [line for line in result.output.replace("\r", "\n").splitlines()
                 if line.strip() and not line.startswith("analysing")]
        assert len(lines) == 1 and lines[0].startswith("Error:"), (kind, result.output)
        assert "Traceback" not in result.output
        assert not out.exists(), kind
        assert _digest(path) == before, kind
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_cut_just_before_the_end_is_no_shot(tmp_path, encoder):
    # 2 s red, 1 s blue, then 0.25 s of green: the last change is too close to the end to score.
    frames = [*solid((200, 30, 30), 48), *solid((30, 30, 200), 24), *solid((30, 200, 30), 6)]
    video = write_video(tmp_path / "tail.mp4", iter(frames), fps=24)
    analysis = analyze_video(video, CONFIG, progress=False, encoder=encoder)
    assert analysis.cuts_s == pytest.approx([2.0], abs=1 / CONFIG.fps)
    assert analysis.shots[-1][1] == pytest.approx(analysis.duration_s)
