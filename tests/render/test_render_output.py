"""Tests of the output-path checks and atomic writes."""

from __future__ import annotations

import os

import pytest

from diffbgm.render.output import OutputPathError, atomic_output, check_output_path


def test_check_output_path_rejects_bad_targets(tmp_path):
    video = tmp_path / "in.mp4"
    video.write_bytes(b"x")
    assert check_output_path(tmp_path / "out.mp4", (video,)) == tmp_path / "out.mp4"
    with pytest.raises(OutputPathError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "out.mp4")
    with pytest.raises(OutputPathError, match="is the input"):
        check_output_path(video, (video,))
    with pytest.raises(OutputPathError, match="is a folder"):
        check_output_path(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_check_output_path_rejects_read_only_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match="not writable"):
            check_output_path(folder / "out.mp4")
    finally:
        folder.chmod(0o755)


def test_atomic_output_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as temp:
            temp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_output(target) as temp:
        temp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
