"""The studio's web server: the page, its JSON API and the session's files (FastAPI).

Every request belongs to the session of its cookie (a new one is made for a browser without one);
jobs run one at a time on :class:`~diffbgm.studio.jobs.JobRunner`'s thread; files are served only
from the asking session's folder.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from pydantic import BaseModel, Field

from diffbgm.pipeline.options import REGENERATE_OPTIONS, GenerationError, default_of
from diffbgm.render.audio import SynthesisError
from diffbgm.render.mux import MuxError
from diffbgm.studio import work
from diffbgm.studio.jobs import JobRunner
from diffbgm.studio.sessions import COOKIE, Session, SessionFileError, SessionStore
from diffbgm.studio.uploads import UploadTooLarge, receive_upload
from diffbgm.studio.views import notes_view
from diffbgm.video.cutlist import CutListError, read_cut_list
from diffbgm.video.decode import VideoError, probe_video

DEFAULT_MAX_UPLOAD_BYTES = 500 * 1024 * 1024
# The names a browser on this machine reaches a studio on 127.0.0.1 by. Others are refused, so that a web
# page cannot reach the studio through a name of its own that resolves to 127.0.0.1 (DNS rebinding).
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")
MAX_CUT_LIST_BYTES = 5 * 1024 * 1024
STATIC = Path(__file__).resolve().parent / "static"
USER_ERRORS = (ValueError, VideoError, MuxError, SynthesisError, OSError)


class AnalyzeRequest(BaseModel):
    cuts: list[float] | None = None


class ScoreRequest(BaseModel):
    options: dict = Field(default_factory=dict)
    cuts: list[float] | None = None
    shot_moods: list[str | None] | None = None


class RegenerateRequest(BaseModel):
    take: int
    start_s: float
    end_s: float
    seed: int | None = None
    guidance: float | None = None


def create_app(pipeline_factory: Callable[[], object], workdir: str | Path,
               max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, example: str | Path | None = None,
               allowed_hosts: Sequence[str] = LOOPBACK_HOSTS) -> FastAPI:
    """The studio's app.

    Parameters
    ----------
    pipeline_factory:
        Builds the :class:`~diffbgm.pipeline.scoring.ScoringPipeline` (called once, on the first job).
    workdir:
        The server's folder: one sub-folder per browser session.
    max_upload_bytes:
        The largest video a browser may upload (413 above it).
    example:
        A video the page offers as the example (``None``: no example).
    allowed_hosts:
        The host names requests may address (``("*",)``: any, for a studio served to other machines).
    """
    store = SessionStore(Path(workdir) / "sessions")
    runner = JobRunner(user_errors=USER_ERRORS)
    holder = work.PipelineHolder(pipeline_factory)
    example = Path(example) if example is not None else None

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        runner.shutdown()

    app = FastAPI(title="diffbgm studio", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def session_of(request: Request, response: Response) -> Session:
        """The request's session; a browser without one gets a new one (and its cookie)."""
        session = store.get(request.cookies.get(COOKIE))
        if session is None:
            session = store.create()
            response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict")
        return session

    def idle(session: Session = Depends(session_of)) -> Session:
        if session.busy:
            raise HTTPException(409, "a job of this session is still running; wait for it or cancel it")
        return session

    def with_video(session: Session = Depends(idle)) -> Session:
        if session.video is None:
            raise HTTPException(400, "open a video first")
        return session

    def state(session: Session) -> dict:
        return {"video": session.video_info, "analysis": session.analysis is not None,
                "takes": [take.summary() for take in session.takes], "example": example is not None,
                "job": None if session.job is None else session.job.status(),
                "max_upload_bytes": max_upload_bytes, "defaults": {"guidance": default_of("guidance")}}

    @app.get("/", response_class=HTMLResponse)
    def page(session: Session = Depends(session_of)) -> str:
        return (STATIC / "index.html").read_text()

    @app.get("/api/state")
    def get_state(session: Session = Depends(session_of)) -> dict:
        return state(session)

    def use_video(session: Session, path: Path, name: str) -> dict:
        """Make ``path`` (already in the session's source folder) the session's video; earlier takes go."""
        try:
            info = probe_video(path)
        except VideoError as error:
            path.unlink(missing_ok=True)
            raise HTTPException(400, str(error).splitlines()[0]) from None
        for old in path.parent.iterdir():
            if old != path:
                old.unlink()
        shutil.rmtree(session.folder / "takes", ignore_errors=True)
        shutil.rmtree(session.folder / "analysis", ignore_errors=True)
        session.video, session.video_name, session.takes, session.analysis = path, name, [], None
        session.video_info = {"name": name, "url": f"files/{path.relative_to(session.folder)}",
                              "duration_s": info.duration_s, "fps": info.fps, "width": info.width,
                              "height": info.height, "has_audio": info.has_audio}
        return state(session)

    @app.put("/api/video")
    async def upload_video(request: Request, name: str, session: Session = Depends(idle)) -> dict:
        try:
            target = session.source_path(name)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        try:
            await receive_upload(request, target, max_upload_bytes)
        except UploadTooLarge as error:
            return JSONResponse({"detail": str(error)}, status_code=413)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        return use_video(session, target, Path(name).name)

    @app.post("/api/example")
    def use_example(session: Session = Depends(idle)) -> dict:
        if example is None or not example.is_file():
            raise HTTPException(404, "this studio has no example video")
        target = session.source_path(example.name)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(example, target)
        return use_video(session, target, example.name)

    @app.put("/api/cutlist")
    async def upload_cut_list(request: Request, name: str, session: Session = Depends(with_video)) -> dict:
        suffix = "".join(ch for ch in Path(name).suffix.lower() if ch.isalnum() or ch == ".")[:8]
        target = session.folder / "cutlists" / f"cuts{suffix}"
        try:
            await receive_upload(request, target, MAX_CUT_LIST_BYTES)
            info = session.video_info
            shots = read_cut_list(target, info["duration_s"], info["fps"])
        except UploadTooLarge as error:
            return JSONResponse({"detail": str(error)}, status_code=413)
        except (CutListError, ValueError) as error:
            raise HTTPException(400, str(error).splitlines()[0]) from None
        return {"cuts": [float(cut) for cut in shots.cuts_s]}

    @app.post("/api/analyze")
    def start_analysis(body: AnalyzeRequest, session: Session = Depends(with_video)) -> dict:
        cuts = _checked_cuts(body.cuts, session)
        session.job = runner.submit("analyze", lambda job: work.analyze(session, holder, cuts, job))
        return session.job.status()

    @app.get("/api/analysis")
    def get_analysis(session: Session = Depends(session_of)) -> dict:
        if session.analysis is None:
            raise HTTPException(404, "no analysis yet")
        return session.analysis

    @app.post("/api/score")
    def start_scoring(body: ScoreRequest, session: Session = Depends(with_video)) -> dict:
        try:
            options = work.options_from_page(body.options)
        except GenerationError as error:
            raise HTTPException(400, str(error)) from None
        cuts = _checked_cuts(body.cuts, session)
        session.job = runner.submit("score", lambda job: work.score(session, holder, options, cuts,
                                                                    body.shot_moods, job))
        return session.job.status()

    @app.post("/api/regenerate")
    def start_regeneration(body: RegenerateRequest, session: Session = Depends(with_video)) -> dict:
        try:
            take = session.take(body.take)
        except SessionFileError:
            raise HTTPException(404, f"no take {body.take}") from None
        if not 0 <= body.start_s < body.end_s:
            raise HTTPException(400, f"select a range: start {body.start_s:g} s must lie before end {body.end_s:g} s")
        overrides = {name: getattr(body, name) for name in ("seed", "guidance")
                     if getattr(body, name) is not None and name in REGENERATE_OPTIONS}
        session.job = runner.submit("regenerate", lambda job: work.regenerate(session, holder, take, body.start_s,
                                                                              body.end_s, overrides, job))
        return session.job.status()

    @app.get("/api/job")
    def get_job(session: Session = Depends(session_of)) -> dict:
        if session.job is None:
            raise HTTPException(404, "no job yet")
        return session.job.status()

    @app.post("/api/job/cancel")
    def cancel_job(session: Session = Depends(session_of)) -> dict:
        if session.job is None:
            raise HTTPException(404, "no job yet")
        session.job.cancel()
        return session.job.status()

    @app.get("/api/takes/{number}/notes")
    def take_notes(number: int, session: Session = Depends(session_of)) -> dict:
        try:
            take = session.take(number)
        except SessionFileError:
            raise HTTPException(404, f"no take {number}") from None
        return notes_view(take.video_path.with_suffix(".mid"), take.manifest)

    @app.get("/files/{relative:path}")
    def session_file(relative: str, request: Request, download: bool = False) -> FileResponse:
        session = store.get(request.cookies.get(COOKIE))
        try:
            if session is None:
                raise SessionFileError(relative)
            path = session.file(relative)
        except SessionFileError:
            raise HTTPException(404, "no such file in this session") from None
        return FileResponse(path, filename=path.name if download else None,
                            content_disposition_type="attachment" if download else "inline")

    return app


def _checked_cuts(cuts: list[float] | None, session: Session) -> list[float] | None:
    """The page's cut times, sorted; 400 for one outside the video."""
    if cuts is None:
        return None
    duration = session.video_info["duration_s"]
    outside = [cut for cut in cuts if not 0 < cut < duration]
    if outside:
        raise HTTPException(400, f"a cut at {outside[0]:g} s lies outside the video (0-{duration:.2f} s)")
    return sorted(set(round(float(cut), 4) for cut in cuts))
