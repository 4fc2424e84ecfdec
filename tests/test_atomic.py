"""Files written whole or not at all."""

import os
import subprocess
import sys

import pytest

from diffbgm import atomic
from diffbgm.atomic import atomic_output


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


def test_atomic_output_gives_the_umask_permissions_even_if_the_writer_made_the_file_private(tmp_path):
    import os

    previous = os.umask(0o022)
    try:
        with atomic_output(tmp_path / "out.bin") as temp:
            temp.write_bytes(b"data")
            os.chmod(temp, 0o600)  # as safetensors' save_file does
    finally:
        os.umask(previous)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644


def test_part_files_left_by_a_killed_writer_are_found_and_removed(tmp_path):
    from diffbgm.atomic import part_files, remove_part_files

    target = tmp_path / "checkpoint.safetensors"
    left = tmp_path / ".checkpoint.k1ll3d00.part.safetensors"
    left.write_bytes(b"half")
    other = tmp_path / ".log.x1.part.csv"
    other.write_text("not ours")
    assert part_files(target) == [left]
    assert remove_part_files(target) == 1 and not left.exists() and other.exists()


class Killed(BaseException):
    """Stands for SIGKILL: no ``except`` clause of the writer runs."""


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.mark.parametrize("killed_at, expected", [(1, "old"), (2, "new"), (4, "new"), (5, "new")])
def test_a_commit_killed_midway_is_finished_by_the_next_writer(tmp_path, monkeypatch, killed_at, expected):
    targets = {key: tmp_path / f"out.{key}" for key in ("mp4", "wav")}
    for key, path in targets.items():
        path.write_text(f"old {key}")
    staging = tmp_path / f".out.mp4{atomic.STAGING_MARK}{_dead_pid()}-x"
    staging.mkdir()
    staged = {key: staging / path.name for key, path in targets.items()}
    for key, path in staged.items():
        path.write_text(f"new {key}")
    replace, calls = os.replace, []

    def replace_until_killed(source, target):
        calls.append(source)
        if len(calls) == killed_at:  # 1: the journal, 2-3: the old files out, 4-5: the new ones in
            raise Killed
        replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", replace_until_killed)
    with pytest.raises(Killed):
        atomic.commit_files(staged, targets, staging)
    monkeypatch.setattr(atomic.os, "replace", replace)
    assert atomic.remove_stale_staging(tmp_path) == [staging]
    assert {key: path.read_text() for key, path in targets.items()} == {key: f"{expected} {key}" for key in targets}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out.mp4", "out.wav"]
