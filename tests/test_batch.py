"""Scoring a folder of videos: the inputs, resuming, a failing video, the summary and the exit code."""

from __future__ import annotations

import csv
import json
import os
import sys

import pytest
from click.testing import CliRunner
from scoring_helpers import three_shot_video, tiny_checkpoint, two_shot_video

from diffbgm.cli import cli
from diffbgm.pipeline.batch import (
    FAILED,
    OK,
    SKIPPED,
    WORKER_STOPPED,
    BatchError,
    VideoOutcome,
    collect_videos,
    output_for,
    run_batch,
    summary_line,
    write_summary,
)
from diffbgm.pipeline.options import GenerationOptions
from diffbgm.pipeline.ray_batch import connect, ray_executor


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch")
    videos = root / "videos"
    videos.mkdir()
    three_shot_video(videos / "a.mp4")
    two_shot_video(videos / "c.mov", seconds=3.0).rename(videos / "c.MOV")  # suffixes match in any case
    two_shot_video(videos / "d.mkv", seconds=4.0)
    # Not a video, though it says so.
    (videos / "b.mp4").write_text("this is a text file, not a video\n")
    (videos / "notes.txt").write_text("not picked up\n")
    return {"root": root, "videos": videos, "model": tiny_checkpoint(root / "tiny.safetensors")}


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for this module's Ray tests (Ray takes seconds to start)."""
    import ray

    assert connect("auto"), "this process was connected to Ray already"
    # A local instance's workers have the priority of local worker processes (Ray's own default: nice 15).
    assert ray.get(ray.remote(lambda: os.nice(0)).remote()) == os.nice(0)
    yield
    ray.shutdown()


def test_collect_videos_sorts_a_folder_and_keeps_files_as_given(tmp_path):
    for name in ("b.webm", "a.MP4", "c.avi", "readme.md"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "z.mp4").write_bytes(b"")
    assert [p.name for p in collect_videos([tmp_path])] == ["a.MP4", "b.webm", "c.avi"]
    assert [p.name for p in collect_videos([tmp_path / "c.avi", tmp_path / "sub"])] == ["c.avi", "z.mp4"]


@pytest.mark.parametrize("make, needle", [
    (lambda root: [root / "missing.mp4"], "video not found"),
    (lambda root: [root / "empty"], "no videos"),
    (lambda root: [root / "x.mp4", root / "other" / "x.mp4"], "rename one"),
    (lambda root: [root / "x.mp4", root / "x.mov"], "rename one"),
])
def test_collect_videos_refuses(tmp_path, make, needle):
    (tmp_path / "empty").mkdir()
    (tmp_path / "other").mkdir()
    for path in (tmp_path / "x.mp4", tmp_path / "x.mov", tmp_path / "other" / "x.mp4"):
        path.write_bytes(b"")
    with pytest.raises(BatchError, match=needle):
        collect_videos(make(tmp_path))


def test_outputs_keep_the_container_where_the_picture_can_be_copied(tmp_path):
    assert output_for(tmp_path / "in" / "a.MOV", tmp_path) == tmp_path / "a.mov"
    assert output_for(tmp_path / "a.mp4", tmp_path) == tmp_path / "a.mp4"
    assert output_for(tmp_path / "a.webm", tmp_path) == tmp_path / "a.mkv"
    assert output_for(tmp_path / "a.avi", tmp_path) == tmp_path / "a.mkv"


def test_summary_files_and_line(tmp_path):
    outcomes = [VideoOutcome("a.mp4", OK, seconds=1.5, tempo_bpm=96.0, cuts_on_downbeats=0.5),
                VideoOutcome("b.mp4", FAILED, "not a video", 0.1), VideoOutcome("c.mp4", SKIPPED, tempo_bpm=120.0)]
    csv_path, json_path = write_summary(outcomes, tmp_path / "out")
    rows = list(csv.DictReader(csv_path.open()))
    assert [row["status"] for row in rows] == ["ok", "failed", "skipped"]
    assert rows[1]["error"] == "not a video" and rows[1]["tempo_bpm"] == "" and rows[0]["cuts_on_downbeats"] == "0.5"
    assert json.loads(json_path.read_text())[0] == {"video": "a.mp4", "status": "ok", "error": "", "seconds": 1.5,
                                                    "tempo_bpm": 96.0, "cuts_on_downbeats": 0.5}
    assert summary_line(outcomes, 2.0).startswith("1 scored, 1 skipped (already done), 1 failed of 3 videos")


def _batch(*args):
    return CliRunner().invoke(cli, ["generate", *map(str, args)])


@pytest.mark.parametrize("scale_out", [[], ["--ray", "auto", "--workers", "2"]], ids=["here", "ray"])
def test_a_folder_with_a_broken_video_scores_the_rest_and_a_rerun_resumes(folder, tmp_path, scale_out, request):
    if scale_out:
        request.getfixturevalue("ray_instance")
    out = tmp_path / "scored"
    common = ["--model", folder["model"], "--steps", "1", "--no-cache", *scale_out]
    result = _batch(folder["videos"], "-o", out, *common)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "Loading weights" not in result.output
    assert "3 scored, 0 skipped (already done), 1 failed of 4 videos" in result.stdout
    assert f"failed: {folder['videos'] / 'b.mp4'}" in result.stderr
    rows = {row["video"].split("/")[-1]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert list(rows) == ["a.mp4", "b.mp4", "c.MOV", "d.mkv"]
    assert {name: row["status"] for name, row in rows.items()} == {"a.mp4": OK, "b.mp4": FAILED, "c.MOV": OK,
                                                                   "d.mkv": OK}
    assert rows["b.mp4"]["error"] and "\n" not in rows["b.mp4"]["error"]
    for name in ("a", "c", "d"):
        assert float(rows[{"a": "a.mp4", "c": "c.MOV", "d": "d.mkv"}[name]]["tempo_bpm"]) > 0
    written = [out / "a.mp4", out / "c.mov", out / "d.mkv"]
    manifests = [json.loads(path.with_suffix(".json").read_text()) for path in written]
    # The three-shot clip's cuts at 2 s and 4 s are in the summary's share of cuts on downbeats.
    assert float(rows["a.mp4"]["cuts_on_downbeats"]) == pytest.approx(manifests[0]["cut_alignment"]["aligned_fraction"],
                                                                      abs=1e-4)
    assert not any(out.glob("b.*")), "a failed video leaves no output"
    before = {path: path.stat().st_mtime_ns for path in written}

    again = _batch(folder["videos"], "-o", out, *common)
    assert again.exit_code == 1, again.output
    assert "0 scored, 3 skipped (already done), 1 failed of 4 videos" in again.stdout
    assert {path: path.stat().st_mtime_ns for path in written} == before
    rows = list(csv.DictReader((out / "summary.csv").open()))
    assert [row["status"] for row in rows] == [SKIPPED, FAILED, SKIPPED, SKIPPED]
    assert float(rows[0]["tempo_bpm"]) == pytest.approx(manifests[0]["tempo_bpm"], abs=0.01)


def test_a_batch_refuses_what_belongs_to_one_video(folder, tmp_path):
    cuts = tmp_path / "cuts.txt"
    cuts.write_text("2.0\n")
    result = _batch(folder["videos"], "-o", tmp_path / "out", "--cuts", cuts)
    assert result.exit_code != 0 and "--cuts belong to one video" in result.output
    (tmp_path / "file.mp4").write_bytes(b"")
    result = _batch(folder["videos"] / "a.mp4", folder["videos"] / "c.MOV", "-o", tmp_path / "file.mp4")
    assert result.exit_code != 0 and "is a file" in result.output
    for workers in ("1", "2"):
        result = _batch(folder["videos"], "-o", tmp_path / "out", "--model", tmp_path / "none.safetensors",
                        "--workers", workers)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and "model not found" in lines[0], result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_two_worker_processes_score_what_one_would(folder, tmp_path):
    videos = [folder["videos"] / "c.MOV", folder["videos"] / "b.mp4", folder["videos"] / "d.mkv"]
    options = GenerationOptions(steps=1, seed=3)
    seen = []
    outcomes = run_batch(videos, tmp_path / "two", options, model_path=folder["model"], workers=2,
                         on_outcome=seen.append)
    assert [o.status for o in outcomes] == [OK, FAILED, OK]
    assert sorted(o.video for o in seen) == sorted(o.video for o in outcomes)
    single = run_batch(videos[:1], tmp_path / "one", options, model_path=folder["model"])
    assert (tmp_path / "one" / "c.mid").read_bytes() == (tmp_path / "two" / "c.mid").read_bytes()
    assert single[0].tempo_bpm == outcomes[0].tempo_bpm


def test_ray_workers_that_cannot_load_the_model_fail_every_video(folder, tmp_path, ray_instance):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    videos = [folder["videos"] / "a.mp4", folder["videos"] / "d.mkv", folder["videos"] / "c.MOV"]
    outcomes = run_batch(videos, tmp_path / "out", GenerationOptions(steps=1), model_path=broken, workers=2,
                         executor=ray_executor("auto", 1))
    assert [(o.video, o.status, o.error) for o in outcomes] == [(str(v), FAILED, WORKER_STOPPED) for v in videos]
    assert not any((tmp_path / "out").iterdir())


def test_ray_not_installed_a_wrong_address_or_one_video_is_a_one_line_error(folder, tmp_path, monkeypatch):
    result = _batch(folder["videos"] / "a.mp4", "-o", tmp_path / "one.mp4", "--ray", "auto")
    assert result.exit_code != 0 and "--ray scores a batch" in result.output
    for address, needle in (("127.0.0.1:1", "no Ray cluster answers at 127.0.0.1:1"), ("head", "HOST:PORT")):
        result = _batch(folder["videos"], "-o", tmp_path / "out", "--ray", address)
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert result.exit_code == 1 and len(lines) == 1 and needle in lines[0], result.output
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when Ray is not installed
    result = _batch(folder["videos"], "-o", tmp_path / "out", "--ray", "auto")
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and len(lines) == 1 and "pip install 'diffbgm[ray]'" in lines[0], result.output
    assert not (tmp_path / "out").exists()
