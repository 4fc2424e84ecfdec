"""The ``diffbgm`` command line: one module a command (or group), each body thin, calling into the package.

Errors the user can fix are raised as :class:`click.ClickException` (one line, exit 1).
"""

from __future__ import annotations

import click

from diffbgm import __version__
from diffbgm.cli.analyze import analyze
from diffbgm.cli.data import data
from diffbgm.cli.evaluate import evaluate
from diffbgm.cli.generate import generate
from diffbgm.cli.model import export, info, train
from diffbgm.cli.studio import studio


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="diffbgm")
def cli() -> None:
    """Write background music for a video, train and evaluate the model."""


for command in (generate, analyze, studio, data, evaluate, train, info, export):
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    cli()
