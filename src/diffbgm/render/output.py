"""Safe output files for the end-to-end command: checked up front, written whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputPathError(ValueError):
    """The output path cannot be written (missing or read-only folder, or it is the input)."""


def check_output_path(output: str | Path, inputs: tuple[str | Path, ...] = ()) -> Path:
    """Fail early, with a one-line message, when ``output`` cannot be written.

    Parameters
    ----------
    output:
        The file to be written.
    inputs:
        Files that must never be overwritten (the input video).
    """
    output = Path(output)
    folder = output.resolve().parent
    if output.is_dir():
        raise OutputPathError(f"output {output} is a folder, not a file")
    for path in inputs:
        if Path(path).exists() and output.exists() and os.path.samefile(path, output):
            raise OutputPathError(f"output {output} is the input video; choose another file name")
    if not folder.is_dir():
        raise OutputPathError(f"cannot write {output}: folder {folder} does not exist")
    try:
        # Make a file there: the permission bits do not tell everything (root, a read-only mount, /proc),
        # and failing only when the finished result is written would waste the whole job.
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise OutputPathError(f"cannot write {output}: folder {folder} is not writable ({error.strerror})") from None
    if output.exists() and not os.access(output, os.W_OK):
        raise OutputPathError(f"cannot write {output}: the file is read-only")
    return output
