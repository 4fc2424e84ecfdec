"""The studio's jobs: analyse a session's video, score it, regenerate a range of a take.

Each runs on the job thread with the server's one :class:`~diffbgm.pipeline.scoring.ScoringPipeline`
(loaded on first need) and reports through the job's progress, so a cancel stops it between stages.
A take's files are written only when it is complete (:meth:`GenerationResult.save`, all or none).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from diffbgm.pipeline.options import GenerationError, GenerationOptions
from diffbgm.studio.jobs import Job
from diffbgm.studio.sessions import Session, Take
from diffbgm.studio.views import analysis_view, write_thumbnail_strip

LOADING_STAGE = "loading the model"
WRITE_STAGE = "write"
THUMBNAILS = "analysis/thumbnails.jpg"
# What the page may choose for a take (the rest keep the defaults of GenerationOptions).
PAGE_OPTIONS = ("key", "tempo_range", "seed", "guidance", "mood")


class PipelineHolder:
    """The server's pipeline, built by ``factory`` the first time a job needs it."""

    def __init__(self, factory: Callable[[], object]) -> None:
        self._factory = factory
        self._pipeline = None
        self._lock = threading.Lock()

    def get(self, job: Job):
        with self._lock:
            if self._pipeline is None:
                job.progress(LOADING_STAGE, 0, 1)
                self._pipeline = self._factory()
                job.progress(LOADING_STAGE, 1, 1)
            return self._pipeline


def options_from_page(chosen: dict) -> GenerationOptions:
    """The generation options of the page's form (:class:`GenerationError` for a bad one)."""
    unknown = set(chosen) - set(PAGE_OPTIONS)
    if unknown:
        raise GenerationError(f"unknown options: {', '.join(sorted(unknown))}")
    values = {name: value for name, value in chosen.items() if value not in (None, "")}
    try:
        if "tempo_range" in values:
            low, high = (float(v) for v in values["tempo_range"])
            values["tempo_range"] = (low, high)
        if "seed" in values:
            values["seed"] = int(values["seed"])
        if "guidance" in values:
            values["guidance"] = float(values["guidance"])
    except (TypeError, ValueError) as error:
        raise GenerationError(f"bad option value: {error}") from None
    # The ranges are GenerationOptions.check()'s, as for the command line.
    options = GenerationOptions(**values)
    options.check()
    return options


def analyze(session: Session, holder: PipelineHolder, cuts: list[float] | None, job: Job) -> dict:
    """Analyse the session's video (with the user's ``cuts`` when given) for the timeline."""
    from diffbgm.video.analysis import analyze_video

    pipeline = holder.get(job)
    job.progress("analyze", 0, 1)
    analysis = analyze_video(session.video, pipeline.analysis_config, progress=False, cache_dir=pipeline.cache_dir,
                             cuts=cuts, encoder=pipeline.image_encoder, device=pipeline.device)
    job.progress("analyze", 1, 1)
    view = analysis_view(analysis, cuts_given=cuts is not None)
    view["thumbnails"] = THUMBNAILS if write_thumbnail_strip(analysis, session.folder / THUMBNAILS) else None
    session.analysis = view
    return {"analysis": True}


def score(session: Session, holder: PipelineHolder, options: GenerationOptions, cuts: list[float] | None,
          shot_moods: list[str | None] | None, job: Job) -> dict:
    """Score the session's video into a new take."""
    pipeline = holder.get(job)
    video = session.video
    result = pipeline.generate(video, options, cuts=cuts, progress=job.progress, shot_moods=shot_moods)
    return _save(session, result, job, parent=None, regenerated=None)


def regenerate(session: Session, holder: PipelineHolder, take: Take, start_s: float, end_s: float,
               overrides: dict, job: Job) -> dict:
    """Write ``[start_s, end_s]`` of ``take`` again (fresh noise, or another seed) into a new take."""
    pipeline = holder.get(job)
    result = pipeline.regenerate(session.video, take.video_path, start_s, end_s, overrides=overrides,
                                 progress=job.progress)
    return _save(session, result, job, parent=take.number, regenerated=(start_s, end_s))


def _save(session: Session, result, job: Job, parent: int | None, regenerated) -> dict:
    job.progress(WRITE_STAGE, 0, 1)
    number, path = session.new_take_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        result.save(path)
    except BaseException:
        _remove_empty(path.parent)
        raise
    job.stage, job.done, job.total = WRITE_STAGE, 1, 1  # written: a cancel now comes too late
    take = Take(number, path, result.manifest, parent=parent, regenerated=regenerated)
    session.takes.append(take)
    return {"take": number}


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass

