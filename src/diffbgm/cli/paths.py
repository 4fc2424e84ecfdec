"""Output paths of the commands: checked before any work, created like ``mkdir -p``, removed again on failure."""

from __future__ import annotations

from pathlib import Path

import click


def check_not_an_input(output: Path, inputs, option: str) -> None:
    """One-line error when ``output`` is a folder or one of ``inputs`` (also through links)."""
    from diffbgm.render.output import OutputPathError, check_output_path

    try:
        check_output_path(output, inputs=tuple(inputs))
    except OutputPathError as error:
        raise click.ClickException(f"{option}: {error}") from None


def make_output_folder(output: Path) -> list[Path]:
    """Create the missing folders above ``output`` (as ``mkdir -p``); return them, deepest first."""
    missing = [folder for folder in [output.absolute().parent, *output.absolute().parent.parents]
               if not folder.exists()]
    try:
        output.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(f"cannot create the output folder {output.parent}: {error.strerror}") from None
    return missing


def remove_empty_folders(folders: list[Path]) -> None:
    """Undo :func:`make_output_folder` after a failure, so that a failed run leaves nothing behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
