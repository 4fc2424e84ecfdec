"""What a command needs of the machine: the torch device, CPU threads and the analysis cache."""

from __future__ import annotations

import os
from pathlib import Path

import click


def default_cache_dir() -> Path:
    """Where video analyses are cached: ``$XDG_CACHE_HOME/diffbgm/video`` (``~/.cache`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "diffbgm" / "video"


def check_device(device: str) -> None:
    """One-line error for a torch device this machine cannot use."""
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise click.ClickException(f"--device must be cpu or cuda[:N], got {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise click.ClickException(f"--device {device} asked for, but torch sees no CUDA device")


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch, OpenCV and the decoder (default: the cores this process may
    use), so that two processes on one machine do not oversubscribe it."""
    import cv2
    import torch

    from diffbgm.video.decode import set_decoder_threads

    threads = threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)
    set_decoder_threads(threads)


def threads_per_worker(threads: int | None, workers: int) -> int:
    """The CPU threads of each of ``workers`` processes: ``threads`` (default: the cores this process may
    use) shared out, at least one each."""
    return max(1, (threads or len(os.sched_getaffinity(0))) // workers)


def prepare_worker(threads: int) -> None:
    """What a batch's worker process does before it loads the model: the command line's quiet libraries
    and its share of the threads (picklable, for ``spawn``)."""
    from diffbgm.cli.terminal import quiet_libraries

    quiet_libraries()
    set_threads(threads)
