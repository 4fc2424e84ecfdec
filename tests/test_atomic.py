"""Files written whole or not at all."""

import pytest

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
