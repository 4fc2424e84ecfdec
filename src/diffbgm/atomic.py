"""Files written whole or not at all: every stage that writes a file goes through here."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_output(output: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``output`` (same suffix); it replaces ``output`` only on success."""
    output = Path(output)
    handle, temp = tempfile.mkstemp(prefix=f".{output.stem}.", suffix=f".part{output.suffix}", dir=output.resolve().parent)
    os.close(handle)
    temp_path = Path(temp)
    # mkstemp creates the file private (0600); give the result the permissions a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(temp_path, 0o666 & ~umask)
    try:
        yield temp_path
        os.replace(temp_path, output)
    finally:
        temp_path.unlink(missing_ok=True)
