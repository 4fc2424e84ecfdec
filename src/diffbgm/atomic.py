"""Files written whole or not at all: every stage that writes a file goes through here."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
from pathlib import Path
from typing import Iterator

PART_MARK = ".part"


@contextlib.contextmanager
def atomic_output(output: str | Path, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``output`` (same suffix); it replaces ``output`` only on success.

    ``durable`` also flushes the file and then its folder to disk (fsync), so that after a crash of the
    machine ``output`` is the old file or the whole new one; a killed process needs no flush for that.
    A process killed inside the block leaves its temporary file behind: :func:`remove_part_files`.
    """
    output = Path(output)
    handle, temp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f"{PART_MARK}{output.suffix}",
                                    dir=output.resolve().parent)
    os.close(handle)
    temp_path = Path(temp)
    try:
        yield temp_path
        # mkstemp creates the file private (0600), and some writers (safetensors) make theirs so too;
        # give the result the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temp_path, 0o666 & ~umask)
        if durable:
            _fsync(temp_path, os.O_RDONLY)
        os.replace(temp_path, output)
        if durable:
            _fsync(output.resolve().parent, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    finally:
        temp_path.unlink(missing_ok=True)


def part_files(output: str | Path) -> list[Path]:
    """The temporary files that killed writers of ``output`` left beside it."""
    output = Path(output)
    pattern = f".{glob.escape(output.stem)}.*{PART_MARK}{glob.escape(output.suffix)}"
    return sorted(output.resolve().parent.glob(pattern))


def remove_part_files(output: str | Path) -> int:
    """Delete :func:`part_files` of ``output`` (only while nothing writes it); return how many."""
    removed = 0
    for path in part_files(output):
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _fsync(path: Path, flags: int) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
