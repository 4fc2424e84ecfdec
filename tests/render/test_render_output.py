"""Tests of the output-path checks and atomic writes."""

from __future__ import annotations

import os
import sys

import pytest

from diffbgm.render.output import OutputPathError, check_output_path


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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_check_output_path_rejects_a_folder_no_file_can_be_made_in():
    # /proc's permission bits let root write, yet no file can be made there: the job used to run to
    # its end and fail only when the result was written, naming its staging folder.
    with pytest.raises(OutputPathError, match="not writable"):
        check_output_path("/proc/out.mp4")
