"""Files written whole or not at all: every stage that writes a file goes through here.

Three shapes of output, each staged beside its destination (same file system, so the last step is a
rename) and cleaned up on failure:

- one file: :func:`atomic_output` (temporary ``.part`` files of killed writers: :func:`remove_part_files`);
- a set of files that belong together (a scored video and its side files, an analysis folder's
  files): :func:`staging_folder` to write them, :func:`commit_files` to move them all or none;
- a folder owned whole (a cache entry, a new data set): :func:`atomic_folder`.

Staging folders carry the writer's process id, so that one left by a killed process is recognised
and removed by the next writer in the same place. A set is committed by one rename per file; a
process killed between the first and the last rename leaves a journal in its staging folder, and
the next writer in that place completes the commit (the new set is whole before the journal is
written) before it removes the folder.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

PART_MARK = ".part"
STAGING_MARK = ".staging-"
JOURNAL_NAME = "commit.json"
_STAGING_PID = re.compile(re.escape(STAGING_MARK) + r"(\d+)-")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


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
        os.chmod(temp_path, 0o666 & ~_umask())
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


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_staging(folder: str | Path) -> list[Path]:
    """Remove the staging folders in ``folder`` whose writing process no longer runs; return them."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for entry in folder.iterdir():
        match = _STAGING_PID.search(entry.name)
        if entry.name.startswith(".") and match and entry.is_dir() and not _process_alive(int(match.group(1))):
            _finish_commit(entry / JOURNAL_NAME)
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _finish_commit(journal: Path) -> None:
    """Move the staged files a killed :func:`commit_files` had not moved yet (none without a journal)."""
    try:
        moves = json.loads(journal.read_text())
    except (OSError, ValueError):
        return
    for staged, target in moves:
        if os.path.lexists(staged):
            os.replace(staged, target)


@contextlib.contextmanager
def staging_folder(beside: str | Path) -> Iterator[Path]:
    """A fresh hidden folder next to ``beside`` (a file or folder to be written), removed on exit.

    Stale staging folders of killed writers in the same place are removed first.
    """
    beside = Path(beside)
    parent = beside.absolute().parent
    remove_stale_staging(parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{beside.name}{STAGING_MARK}{os.getpid()}-", dir=parent))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def commit_files(staged: dict[str, Path], targets: dict[str, Path], backup_dir: Path) -> None:
    """Move every ``staged[key]`` to ``targets[key]``, or none: on failure the earlier files come back.

    ``backup_dir`` (on the targets' file system, e.g. the staging folder) holds the files being replaced
    until all the new ones are in place. Staged files get the permissions a plain ``open()`` would give.
    """
    mode = 0o666 & ~_umask()
    for path in staged.values():
        os.chmod(path, mode)
    backups: dict[str, Path] = {}
    moved: list[str] = []
    # From here on the new set is whole: a writer killed in the renames below is finished by the next one.
    journal = backup_dir / JOURNAL_NAME
    with atomic_output(journal) as temp:
        temp.write_text(json.dumps([[str(staged[key].absolute()), str(path.absolute())]
                                    for key, path in targets.items()]))
    try:
        for key, path in targets.items():
            if path.exists():
                backup = backup_dir / f"backup-{key}"
                os.replace(path, backup)
                backups[key] = backup
        for key, path in targets.items():
            os.replace(staged[key], path)
            moved.append(key)
    except OSError:
        journal.unlink(missing_ok=True)
        for key in moved:
            targets[key].unlink(missing_ok=True)
        for key, backup in backups.items():
            os.replace(backup, targets[key])
        raise


@contextlib.contextmanager
def atomic_folder(target: str | Path) -> Iterator[Path]:
    """Yield a staging folder that becomes ``target`` on success; ``target`` must be absent or empty.

    For folders owned whole (a cache entry, a new data set): nothing is ever merged into or deleted from
    an existing folder with other contents.
    """
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"{target} exists and is not empty")
    target.absolute().parent.mkdir(parents=True, exist_ok=True)
    with staging_folder(target) as staging:
        yield staging
        os.chmod(staging, 0o777 & ~_umask())
        os.replace(staging, target)
