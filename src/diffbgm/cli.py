"""The ``diffbgm`` command line.

Each stage adds its commands in its own section below; command bodies stay thin and call into the
package. Errors the user can fix are raised as :class:`click.ClickException` (one line, exit 1).
"""

from __future__ import annotations

import click

from diffbgm import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="diffbgm")
def cli() -> None:
    """Write background music for a video, train and evaluate the model."""


@cli.group()
def data() -> None:
    """Build training data sets (POP909 windows, BGM909 layout)."""


# --- music / data / evaluation commands ---------------------------------------------------------


# --- video commands -------------------------------------------------------------------------------


# --- model / training commands --------------------------------------------------------------------


# --- generation commands --------------------------------------------------------------------------


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
