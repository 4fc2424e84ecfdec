"""The ``diffbgm generate`` command: outputs, one-line errors, no partial files, input untouched."""

from __future__ import annotations

import hashlib
import json

import av
import pytest
from click.testing import CliRunner
from scoring_helpers import one_second_video, three_shot_video, tiny_checkpoint, two_shot_video
from video.synth import solid, write_video

from diffbgm.cli import cli
from diffbgm.diffusion.samplers import DEFAULT_GROOVE_GUIDANCE, DEFAULT_STEPS
from diffbgm.pipeline import DEFAULT_WEIGHTS


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli_generate")
    return {
        "folder": folder,
        "model": tiny_checkpoint(folder / "tiny.safetensors"),
        "video": three_shot_video(folder / "clip.mp4"),
        "short": one_second_video(folder / "short.mp4"),
    }


def _run(*args: str):
    return CliRunner().invoke(cli, ["generate", *map(str, args)])


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _assert_one_line_error(result, needle: str) -> None:
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.output


def test_generate_then_regenerate(files, tmp_path):
    before = _digest(files["video"])
    out = tmp_path / "scored.mp4"
    common = ["--model", files["model"], "--steps", "1", "--no-cache"]
    result = _run(files["video"], "-o", out, *common, "--seed", "5", "--mood", "calm, warm",
                  "--keep-audio", "-12dB", "--tempo-range", "80", "130")
    assert result.exit_code == 0, result.output
    assert "cuts on downbeats" in result.output
    for suffix in (".mp4", ".mid", ".wav", ".json", ".png", ".npz"):
        assert out.with_suffix(suffix).is_file()
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["seed"] == 5 and manifest["options"]["mood"] == "calm, warm"
    assert manifest["options"]["tempo_range"] == [80.0, 130.0] and manifest["options"]["keep_audio"] == "-12dB"
    assert manifest["options"]["groove_guidance"] == DEFAULT_GROOVE_GUIDANCE
    result = _run(files["video"], "-o", out, *common, "--regenerate", "0", "2", "--groove-guidance", "1.5")
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["revision"] == 1 and manifest["seed"] == 5 and manifest["options"]["groove_guidance"] == 1.5
    # Options that only a new generation can change are refused, not silently ignored.
    for args in (["--key", "A minor"], ["--bpm", "90"], ["--mood", "sad"]):
        _assert_one_line_error(_run(files["video"], "-o", out, *common, "--regenerate", "0", "2", *args),
                               "when regenerating")
    other = tmp_path / "other.mp4"
    two_shot_video(other, seconds=10.0)
    _assert_one_line_error(_run(other, "-o", out, *common, "--regenerate", "0", "2"), "was made for a")
    assert json.loads(out.with_suffix(".json").read_text())["revision"] == 1
    assert _digest(files["video"]) == before


def test_help_shows_the_defaults_it_uses():
    text = " ".join(CliRunner().invoke(cli, ["generate", "--help"]).output.split())
    assert f"[default: {DEFAULT_STEPS}; x>=1]" in text
    assert f"[default: {DEFAULT_GROOVE_GUIDANCE}]" in text
    assert "(dynamic)" not in text and text.count("[default: auto]") == 2  # --key and --groove, once each


@pytest.mark.parametrize("args, needle", [
    (["--guidance", "nan"], "guidance must be a finite number"),
    (["--groove-guidance", "inf"], "groove_guidance must be a finite number"),
    (["--mood", " "], "--mood is empty"),
    (["--device", "bogus"], "--device must be cpu or cuda"),
    (["--keep-audio", "+60dB"], "above +12dB"),
    (["--keep-audio", "nan"], "finite"),
    (["--seed", "-1"], "-1"),
])
def test_bad_option_values_fail_before_any_work(files, tmp_path, args, needle):
    result = _run(files["video"], "-o", tmp_path / "out.mp4", "--model", tmp_path / "not-loaded.safetensors", *args)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and "Traceback" not in result.output and needle in lines[-1], result.output
    assert list(tmp_path.iterdir()) == []  # and no model was needed to say so


def test_a_picture_the_output_cannot_hold_is_refused_up_front(files, tmp_path):
    # A VP8 (WebM) picture cannot be copied into an MP4: that used to end in a traceback after the whole
    # generation; now it is one line before any work, and an .mkv takes it.
    webm = write_video(tmp_path / "clip.webm", solid((40, 90, 160), 72, (96, 64)), fps=24.0)
    _assert_one_line_error(_run(webm, "-o", tmp_path / "out.mp4", "--model", tmp_path / "not-loaded.safetensors"),
                           "write -o as .mkv")
    result = _run(webm, "-o", tmp_path / "out.mkv", "--model", files["model"], "--steps", "1", "--no-cache")
    assert result.exit_code == 0, result.output
    with av.open(str(tmp_path / "out.mkv")) as scored:
        assert scored.streams.video[0].codec_context.name == "vp8" and len(scored.streams.audio) == 1


def test_bad_output_suffix_and_soundfont_are_refused_up_front(files, tmp_path):
    fake = tmp_path / "bad.sf2"
    fake.write_text("not a soundfont")
    _assert_one_line_error(_run(files["video"], "-o", tmp_path / "out.webm", "--model", files["model"]),
                           "must be a video file ending in")
    _assert_one_line_error(_run(files["video"], "-o", tmp_path / "out.mp4", "--model", files["model"],
                                "--soundfont", fake), "not a SoundFont 2 file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.sf2"]


def test_not_a_video(files, tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all")
    result = _run(text, "-o", tmp_path / "out.mp4", "--model", files["model"])
    _assert_one_line_error(result, "notes.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.mp4"]


def test_a_one_second_clip_is_scored_and_a_shorter_one_refused(files, tmp_path):
    out = tmp_path / "sting.mp4"
    result = _run(files["short"], "-o", out, "--model", files["model"], "--no-cache", "--steps", "1")
    assert result.exit_code == 0, result.output
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["duration_s"] == pytest.approx(1.0, abs=0.01) and manifest["music_end_s"] >= 1.0
    shorter = one_second_video(tmp_path / "blink.mp4", seconds=0.5)
    result = _run(shorter, "-o", tmp_path / "out" / "x.mp4", "--model", files["model"], "--no-cache")
    _assert_one_line_error(result, "use a longer clip")
    assert not (tmp_path / "out").exists()


def test_unwritable_output_and_output_over_input(files, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _run(files["video"], "-o", blocker / "out.mp4", "--model", files["model"])
    _assert_one_line_error(result, "cannot create the output folder")
    # A missing output folder is created like `mkdir -p`, and removed again when the run fails.
    result = _run(files["video"], "-o", tmp_path / "new" / "deeper" / "out.mp4", "--model", tmp_path / "none.safetensors")
    _assert_one_line_error(result, "model not found")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
    result = _run(files["video"], "-o", files["video"], "--model", files["model"])
    _assert_one_line_error(result, "is the input video")


def test_missing_model(files, tmp_path):
    result = _run(files["video"], "-o", tmp_path / "out.mp4", "--model", tmp_path / "nothing.safetensors")
    _assert_one_line_error(result, "model not found")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\0" * 64)
    _assert_one_line_error(_run(files["video"], "-o", tmp_path / "out.mp4", "--model", junk), "safetensors")
    if not DEFAULT_WEIGHTS.is_file():
        _assert_one_line_error(_run(files["video"], "-o", tmp_path / "out.mp4"), "no default model shipped; pass --model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.safetensors"]


def test_regenerate_without_an_earlier_result(files, tmp_path):
    result = _run(files["video"], "-o", tmp_path / "out.mp4", "--model", files["model"], "--regenerate", "1", "2")
    _assert_one_line_error(result, "no earlier result")


def test_unknown_key(files, tmp_path):
    result = _run(files["video"], "-o", tmp_path / "out" / "scored.mp4", "--model", files["model"], "--key", "H major")
    _assert_one_line_error(result, "unknown key 'H major'")
    assert list(tmp_path.iterdir()) == []
