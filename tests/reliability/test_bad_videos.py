"""The bad-input video corpus through ``diffbgm generate``: a damaged file is one line on stderr and a
non-zero exit, an unusual but sound one is scored; either way nothing partial is left and the input
is never changed (its SHA-256 is compared)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import av
import pytest
from bad_videos import (
    FPS,
    audio_only,
    faststart_video,
    odd_size_video,
    photo_video,
    truncated,
    vfr_times,
    without_moov,
)
from click.testing import CliRunner
from scoring_helpers import tiny_checkpoint

from diffbgm.cli import cli

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OUTPUTS = ("x.mp4", "x.mid", "x.wav", "x.json", "x.png", "x.npz")


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return tiny_checkpoint(tmp_path_factory.mktemp("model") / "tiny.safetensors")


def digests(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links as their own kind) with its SHA-256."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "-> " + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def generate(video: Path, output: Path, model: Path, *extra: str):
    return CliRunner().invoke(cli, ["generate", str(video), "-o", str(output), "--model", str(model),
                                    "--steps", "1", "--no-cache", "--quiet", *extra])


def assert_refused(result, needle: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit), result.exception
    assert result.stdout == "", result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.stderr


def make_truncated(folder: Path) -> Path:
    return truncated(faststart_video(folder / "whole.mp4"), folder / "cut short.mp4")


def make_moov_less(folder: Path) -> Path:
    return without_moov(photo_video(folder / "whole.mp4"), folder / "no index.mp4")


def make_empty(folder: Path) -> Path:
    (folder / "empty.mp4").write_bytes(b"")
    return folder / "empty.mp4"


def make_plain_truncated(folder: Path) -> Path:
    """An MP4 whose index comes last (PyAV's default), cut in half: the index is gone with it."""
    return truncated(photo_video(folder / "whole.mp4"), folder / "half.mp4")


@pytest.mark.parametrize("make, needle", [
    (make_truncated, "truncated: frames stop at"),
    (make_plain_truncated, "not a video file, or truncated/corrupt"),
    (make_moov_less, "not a video file, or truncated/corrupt"),
    (make_empty, "empty file"),
    (lambda folder: audio_only(folder / "sound only.mp4"), "no video stream (only audio)"),
    (lambda folder: photo_video(folder / "one frame.mp4", seconds=1 / FPS), "use a longer clip"),
], ids=["truncated", "truncated-index-last", "no-moov", "zero-bytes", "audio-only", "one-frame"])
def test_a_damaged_or_unscoreable_video_is_one_line_and_leaves_nothing(tmp_path, model, make, needle):
    inputs = tmp_path / "in"
    inputs.mkdir()
    video = make(inputs)
    before = digests(inputs)
    result = generate(video, tmp_path / "out" / "x.mp4", model)
    assert_refused(result, needle)
    assert str(video.name) in result.stderr or "longer clip" in needle
    assert digests(inputs) == before
    assert not (tmp_path / "out").exists()


def scored_length_s(path: Path) -> tuple[float, int, int]:
    """The picture's length, width and height as the scored file presents them."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(container.duration / av.time_base), stream.width, stream.height


@pytest.mark.parametrize("make, length_s", [
    (lambda folder: odd_size_video(folder / "odd.mkv"), 2.0),
    (lambda folder: photo_video(folder / "vfr.mp4", times_s=vfr_times(round(2 * FPS))), None),
    (lambda folder: photo_video(folder / "phone.mp4", rotation=90), 2.0),
    (lambda folder: photo_video(folder / "vidéo de Zoë" / "plan n°1 ü.mp4"), 2.0),
], ids=["33x17", "vfr", "rotated", "unicode-path"])
def test_an_unusual_but_sound_video_is_scored(tmp_path, model, make, length_s):
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "vidéo de Zoë").mkdir()
    video = make(inputs)
    before = digests(inputs)
    output = tmp_path / "sortie à écouter" / "x.mp4"
    result = generate(video, output, model)
    assert result.exit_code == 0, result.output
    assert sorted(path.name for path in output.parent.iterdir()) == sorted(OUTPUTS)
    manifest = json.loads(output.with_suffix(".json").read_text())
    with av.open(str(video)) as source:
        expected = length_s or float(source.duration / av.time_base)
        source_size = (source.streams.video[0].width, source.streams.video[0].height)
    assert manifest["duration_s"] == pytest.approx(expected, abs=1.5 / FPS)
    assert manifest["files"]["video"] == "x.mp4"
    with av.open(str(output)) as scored:
        assert (scored.streams.video[0].width, scored.streams.video[0].height) == source_size
        assert len(scored.streams.audio) == 1
    assert digests(inputs) == before


def test_an_output_that_is_the_input_through_a_link_is_refused(tmp_path, model):
    video = photo_video(tmp_path / "clip.mp4")
    os.symlink(video, tmp_path / "alias.mp4")
    os.link(video, tmp_path / "hard.mp4")
    before = digests(tmp_path)
    for output in ("alias.mp4", "hard.mp4"):
        assert_refused(generate(video, tmp_path / output, model), "is the input video")
    # the other way round: the input named through a link, the output the file itself
    assert_refused(generate(tmp_path / "alias.mp4", video, model), "is the input video")
    assert digests(tmp_path) == before


def test_too_many_cuts_are_refused_before_the_model_loads(tmp_path, model):
    video = photo_video(tmp_path / "clip.mp4")
    cuts = tmp_path / "cuts.txt"
    cuts.write_text("".join(f"{k / 100_000:.5f}\n" for k in range(1, 100_001)))  # all within the video
    result = CliRunner().invoke(cli, ["generate", str(video), "-o", str(tmp_path / "out" / "x.mp4"),
                                      "--model", str(tmp_path / "no such model.safetensors"), "--cuts", str(cuts)])
    assert_refused(result, "100000 cuts for a 2.000-s video; at most 8")
    assert not (tmp_path / "out").exists()


def test_keep_audio_of_a_silent_video_warns_and_scores(tmp_path, model):
    video = photo_video(tmp_path / "silent.mp4")
    output = tmp_path / "out" / "x.mp4"
    result = generate(video, output, model, "--keep-audio", "-6dB")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Warning: silent.mp4 has no sound"), result.stderr
    assert sorted(path.name for path in output.parent.iterdir()) == sorted(OUTPUTS)
    with av.open(str(output)) as scored:
        assert len(scored.streams.audio) == 1
