"""The studio's work queue: one job at a time in a background thread, its progress, and its cancel.

A job is a function of a :data:`~diffbgm.pipeline.scoring.Progress` callback. Cancelling sets a flag
that the next progress call turns into :class:`JobCancelled`, so a job stops between stages or
windows; jobs write their outputs only at their end (all or none), so a cancelled job leaves none.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"


class JobCancelled(Exception):
    """Raised from a job's progress callback once the job is cancelled."""


@dataclass
class Job:
    """One piece of work of one session and what the page is told about it."""

    id: int
    kind: str
    state: str = QUEUED
    stage: str = ""
    done: int = 0
    total: int = 0
    stages: list[str] = field(default_factory=list)
    error: str = ""
    result: dict = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    _cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def finished(self) -> bool:
        return self.state in (DONE, FAILED, CANCELLED)

    def cancel(self) -> None:
        self._cancel.set()

    def progress(self, stage: str, done: int, total: int) -> None:
        """The job's :data:`~diffbgm.pipeline.scoring.Progress`; raises :class:`JobCancelled` once cancelled."""
        if self._cancel.is_set():
            raise JobCancelled
        if stage not in self.stages:
            self.stages.append(stage)
        self.stage, self.done, self.total = stage, done, total

    def status(self) -> dict:
        """Plain JSON for the page."""
        return {"id": self.id, "kind": self.kind, "state": self.state, "stage": self.stage, "done": self.done,
                "total": self.total, "stages": list(self.stages), "error": self.error, "result": self.result,
                "seconds": round(time.monotonic() - self.started, 1)}


class JobRunner:
    """Runs jobs one after another on one thread (the model is one, and the CPU is shared)."""

    def __init__(self, user_errors: tuple[type[BaseException], ...] = (ValueError,)) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffbgm-studio")
        self._user_errors = user_errors
        self._count = 0
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Callable[[Job], dict]) -> Job:
        """Queue ``work`` (which gets the job, reports through ``job.progress`` and returns the result)."""
        with self._lock:
            self._count += 1
            job = Job(self._count, kind)
        self._executor.submit(self._run, job, work)
        return job

    def _run(self, job: Job, work: Callable[[Job], dict]) -> None:
        try:
            if job._cancel.is_set():
                raise JobCancelled
            job.state = RUNNING
            job.result = work(job)
            job.state = DONE
        except JobCancelled:
            job.state = CANCELLED
        except self._user_errors as error:
            job.error = str(error).splitlines()[0] if str(error) else type(error).__name__
            job.state = FAILED
        except Exception as error:  # the page shows it; the server stays up for the next job
            logger.exception("studio job %s failed", job.id)
            job.error = f"{type(error).__name__}: {error}".splitlines()[0]
            job.state = FAILED

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
