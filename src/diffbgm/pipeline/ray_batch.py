"""A batch on a Ray cluster: one Ray actor per worker loads the model once, and scores one video per task.

Ray (https://docs.ray.io, the engine peers use for distributed batch inference) is an optional extra:
``pip install 'diffbgm[ray]'``. The videos, the output folder and the model must be reachable under
the same paths on every node (a shared file system), and diffbgm installed there. Which videos to
skip, the outcome of each video and the summary are those of :mod:`diffbgm.pipeline.batch`.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from diffbgm.pipeline.batch import (
    FAILED,
    WORKER_STOPPED,
    BatchError,
    BatchWork,
    Executor,
    VideoOutcome,
    error_line,
    load_pipeline,
    output_for,
    score_video,
)

AUTO = "auto"
CLIENT_PREFIX = "ray://"
CONNECT_TIMEOUT_S = 5.0
INSTALL_HINT = "pip install 'diffbgm[ray]'"


def _import_ray():
    try:
        import ray
    except ImportError:
        raise BatchError(f"--ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


def check_ray() -> None:
    """Raise :class:`BatchError` (with the command that installs it) when Ray is not installed."""
    _import_ray()


class ScoringWorker:
    """One worker of the batch (a Ray actor): its process loads the model when it starts."""

    def __init__(self, load_args: tuple) -> None:
        load_pipeline(*load_args)

    def score(self, video: Path, output: Path, options, timeline: bool) -> VideoOutcome:
        return score_video(video, output, options, timeline)


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise :class:`BatchError` unless something listens at ``address`` (``[ray://]HOST:PORT``): Ray itself
    retries an address nobody answers at for minutes."""
    host, _, port = address.removeprefix(CLIENT_PREFIX).rpartition(":")
    if not host or not port.isdigit():
        raise BatchError(f"--ray takes auto or HOST:PORT (or ray://HOST:PORT), got {address!r}")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise BatchError(f"no Ray cluster answers at {address}: {error.strerror or error}") from None


def connect(address: str) -> bool:
    """Connect this process to Ray: ``auto``, the running cluster if there is one, else a new local instance
    of this machine; otherwise the cluster at ``address`` (``host:port`` or ``ray://host:port``).

    Returns ``True`` when this call connected (and the caller should disconnect), ``False`` when the
    process was connected already.

    Raises
    ------
    BatchError
        Ray is not installed, or no cluster answers at ``address``.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    settings = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
    try:
        if address == AUTO:
            try:
                ray.init(address=AUTO, **settings)
            except ConnectionError:
                # Ray starts its workers at niceness 15 (its config's worker_niceness), behind every other
                # process; on this machine they score at the priority --workers processes have.
                ray.init(**settings, _system_config={"worker_niceness": 0})
        else:
            ray.init(address=address, **settings)
    except (ConnectionError, ValueError, RuntimeError) as error:
        lines = str(error).strip().splitlines()
        raise BatchError(f"cannot connect to Ray at {address}: {lines[0] if lines else type(error).__name__}") from None
    return True


def ray_executor(address: str, cpus_per_worker: int) -> Executor:
    """An executor for :func:`diffbgm.pipeline.batch.run_batch` that scores on Ray at ``address`` (see
    :func:`connect`), each worker an actor holding ``cpus_per_worker`` CPUs of the cluster.

    Raises
    ------
    BatchError
        Ray is not installed, or nothing answers at ``address`` (checked now, before any work).
    """
    check_ray()
    if address != AUTO:
        check_reachable(address)

    def execute(work: BatchWork, report: Callable[[VideoOutcome], None]) -> None:
        connected = connect(address)
        try:
            _run_on_ray(work, report, cpus_per_worker)
        finally:
            if connected:
                _import_ray().shutdown()

    return execute


def _run_on_ray(work: BatchWork, report: Callable[[VideoOutcome], None], cpus_per_worker: int) -> None:
    ray = _import_ray()
    from ray.exceptions import RayActorError, RayError

    # Workers may run in another folder, or on another machine: they get absolute paths.
    model_path, *load_rest = work.load_args
    load_args = (None if model_path is None else Path(model_path).resolve(), *load_rest)
    worker_class = ray.remote(num_cpus=cpus_per_worker)(ScoringWorker)
    idle = [worker_class.remote(load_args) for _ in range(min(work.workers, len(work.videos)))]
    waiting = list(work.videos)
    running: dict = {}  # task -> (video, worker)
    while waiting or running:
        while idle and waiting:
            video, worker = waiting.pop(0), idle.pop(0)
            output = output_for(video, work.out_dir).resolve()
            running[worker.score.remote(video.resolve(), output, work.options, work.timeline)] = (video, worker)
        (task,), _ = ray.wait(list(running), num_returns=1)
        video, worker = running.pop(task)
        try:
            report(dataclasses.replace(ray.get(task), video=str(video)))
            idle.append(worker)
        except RayActorError:
            # The worker could not load the model (or died): it takes no more videos, and when no worker
            # is left, the videos still waiting fail with why.
            report(VideoOutcome(str(video), FAILED, WORKER_STOPPED))
            if not idle and not running:
                for left in waiting:
                    report(VideoOutcome(str(left), FAILED, WORKER_STOPPED))
                waiting.clear()
        except RayError as error:  # the task itself could not run (score_video catches the video's own errors)
            report(VideoOutcome(str(video), FAILED, error_line(error)))
            idle.append(worker)
