"""What the commands show on the terminal: progress bars, details under ``-v``, and quiet libraries.

Bars go to stderr and only to a terminal (never into a log file or a pipe), and never under ``--quiet``.
The libraries' own bars ("Loading weights") and warnings are not ours to show: they are silenced here,
by the command line only, never when the package is imported as a library.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings

import click

# Loggers of the libraries the models come from; their warnings speak to developers, not to users.
LIBRARY_LOGGERS = ("transformers", "sentence_transformers", "huggingface_hub", "diffusers", "timm", "torch")


def quiet_libraries() -> None:
    """Silence the model libraries' progress bars, warnings and deprecation notices for this process."""
    # Read when the libraries are imported (huggingface_hub's progress bars, transformers' verbosity) ...
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # ... and set again for a library that is imported already.
    if "transformers" in sys.modules:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    if "huggingface_hub" in sys.modules:
        from huggingface_hub.utils import disable_progress_bars

        disable_progress_bars()
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    for category in (DeprecationWarning, FutureWarning, UserWarning):
        for module in ("diffusers", "transformers", "sentence_transformers", "huggingface_hub", "timm"):
            warnings.filterwarnings("ignore", category=category, module=rf"{module}(\.|$)")
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*diffusers.*")


def set_up_output(quiet: bool, verbose: bool) -> bool:
    """Quiet the libraries, set the log level from ``-q``/``-v``, and say whether to draw progress bars."""
    quiet_libraries()
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("diffbgm").setLevel(logging.INFO if verbose and not quiet else logging.WARNING)
    return shows_bars(quiet)


def shows_bars(quiet: bool) -> bool:
    """Progress bars: on a terminal, unless ``--quiet``."""
    return not quiet and sys.stderr.isatty()


class StageBar:
    """A :data:`diffbgm.pipeline.scoring.Progress` drawn as one bar: the stage now running, and the
    windows of the diffusion one by one."""

    def __init__(self, label: str, enabled: bool) -> None:
        from tqdm import tqdm

        self._label = label
        self._bar = tqdm(total=1, desc=label, leave=False, disable=not enabled, file=sys.stderr,
                         bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
        self._stage = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self._stage = stage
            self._bar.reset(total=total)
            self._bar.set_description_str(f"{self._label}: {'diffusion windows' if stage == 'diffusion' else stage}",
                                          refresh=False)
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> StageBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def quiet_option(command):
    """``-q/--quiet``: no progress bars, no summary line (errors are still shown)."""
    return click.option("-q", "--quiet", is_flag=True, help="no progress bars and no summary line")(command)


def verbose_option(command):
    """``-v/--verbose``: details after the summary line."""
    return click.option("-v", "--verbose", is_flag=True,
                        help="also print details: stage timings, cuts, tempo")(command)


def echo_details(timings_s: dict[str, float], **facts: str) -> None:
    """The ``-v`` details: one line per fact, then the stage timings."""
    for name, value in facts.items():
        click.echo(f"  {name.replace('_', ' ')}: {value}")
    if timings_s:
        click.echo("  stages: " + ", ".join(f"{stage} {seconds:.2f} s" for stage, seconds in timings_s.items()))
