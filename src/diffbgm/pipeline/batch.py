"""Scoring many videos: the list of inputs, one outcome per video, resuming, and the summary.

A batch writes ``OUTDIR/<stem>.mp4`` (and its side files) for every video. A video whose scored
video and manifest are both present is skipped, so a rerun resumes where an interrupted one stopped;
a video that fails is recorded with its error and the others go on. ``workers`` processes each load
the model once (``spawn``: CUDA and OpenMP do not survive a ``fork``); an ``executor`` runs them
elsewhere instead (:mod:`diffbgm.pipeline.ray_batch`: on a Ray cluster).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path

from diffbgm.pipeline.options import GenerationError, GenerationOptions
from diffbgm.pipeline.outputs import MANIFEST_FORMAT, VIDEO_SUFFIXES, side_paths

# What a folder given as input is searched for (case-insensitive).
VIDEO_INPUT_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v", ".webm", ".avi")
# The picture is copied, not re-encoded, so a scored video keeps its source's container where it can;
# Matroska takes what the others cannot (WebM's VP8/VP9, AVI's MPEG-4 part 2).
FALLBACK_OUTPUT_SUFFIX = ".mkv"
SUMMARY_CSV = "summary.csv"
SUMMARY_JSON = "summary.json"
OK, SKIPPED, FAILED = "ok", "skipped", "failed"
WORKER_STOPPED = "the worker process stopped (the model could not be loaded, or it ran out of memory)"


class BatchError(GenerationError):
    """Inputs or an output folder a batch cannot start with."""


@dataclass(frozen=True)
class VideoOutcome:
    """What became of one video of a batch (one row of the summary)."""

    video: str
    status: str  # ok, skipped or failed
    error: str = ""
    seconds: float = 0.0
    tempo_bpm: float | None = None
    cuts_on_downbeats: float | None = None  # share of the cuts that fall on a downbeat

    FIELDS = ("video", "status", "error", "seconds", "tempo_bpm", "cuts_on_downbeats")


def collect_videos(inputs: Iterable[str | Path]) -> list[Path]:
    """The videos named by ``inputs``: files as given, folders as their videos sorted by name (not recursive).

    Raises
    ------
    BatchError
        An input that does not exist, a folder without videos, no videos at all, or two videos with
        the same stem (their outputs would collide).
    """
    videos: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = sorted(path for path in item.iterdir()
                           if path.is_file() and path.suffix.lower() in VIDEO_INPUT_SUFFIXES)
            if not found:
                raise BatchError(f"no videos ({', '.join(VIDEO_INPUT_SUFFIXES)}) in {item}")
            videos.extend(found)
        elif item.is_file():
            videos.append(item)
        else:
            raise BatchError(f"video not found: {item}")
    if not videos:
        raise BatchError("no videos given")
    stems: dict[str, Path] = {}
    for video in videos:
        other = stems.setdefault(video.stem, video)
        if other != video:
            raise BatchError(f"{other} and {video} would both be written as {video.stem}.*; rename one")
    return videos


def output_for(video: Path, out_dir: Path) -> Path:
    """Where a batch writes the scored ``video``: ``out_dir/<stem>`` with the source's container, or
    ``.mkv`` for a container a scored video cannot be written as."""
    suffix = video.suffix.lower()
    return out_dir / f"{video.stem}{suffix if suffix in VIDEO_SUFFIXES else FALLBACK_OUTPUT_SUFFIX}"


def finished_outcome(video: Path, output: Path) -> VideoOutcome | None:
    """The outcome of an earlier run that already scored ``video`` as ``output`` (its scored video and its
    manifest present), ``None`` when it is still to do."""
    manifest_path = side_paths(output)["json"]
    if not (output.is_file() and manifest_path.is_file()):
        return None
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    return VideoOutcome(str(video), SKIPPED, tempo_bpm=manifest.get("tempo_bpm"),
                        cuts_on_downbeats=manifest.get("cut_alignment", {}).get("aligned_fraction"))


def error_line(error: BaseException) -> str:
    """An exception as one line for the summary."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


# --- the work of one process ------------------------------------------------------------------------

_pipeline = None


def load_pipeline(model_path: str | Path | None, device: str, cache_dir: str | Path | None,
                  setup: Callable[[], None] | None = None) -> None:
    """Prepare this process (``setup``, e.g. its thread count) and load the model it scores with, once."""
    global _pipeline
    from diffbgm.pipeline.scoring import ScoringPipeline

    if setup is not None:
        setup()
    _pipeline = ScoringPipeline.from_checkpoint(model_path, device=device, cache_dir=cache_dir)


def score_video(video: Path, output: Path, options: GenerationOptions, timeline: bool = False) -> VideoOutcome:
    """Score one video with this process' pipeline (see :func:`load_pipeline`); any failure becomes a
    ``failed`` outcome, so that one bad video does not stop a batch."""
    started = time.perf_counter()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        result = _pipeline.generate(video, options)
        result.save(output, timeline=timeline)
    except Exception as error:  # noqa: BLE001 - every failure of one video is that video's outcome
        return VideoOutcome(str(video), FAILED, error_line(error), round(time.perf_counter() - started, 3))
    plan = result.plan
    return VideoOutcome(str(video), OK, seconds=round(time.perf_counter() - started, 3),
                        tempo_bpm=round(float(plan.tempo_bpm), 2),
                        cuts_on_downbeats=round(float(plan.aligned_fraction), 4))


# --- the batch --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BatchWork:
    """The videos still to score and what each worker needs: handed to an executor."""

    videos: Sequence[Path]
    out_dir: Path
    options: GenerationOptions
    load_args: tuple  # the arguments of load_pipeline
    workers: int
    timeline: bool


# Scores every video of the work, reporting each outcome as it comes.
Executor = Callable[[BatchWork, Callable[[VideoOutcome], None]], None]


def run_batch(videos: Sequence[Path], out_dir: Path, options: GenerationOptions, *,
              model_path: str | Path | None = None, device: str = "cpu", cache_dir: str | Path | None = None,
              workers: int = 1, timeline: bool = False, setup: Callable[[], None] | None = None,
              on_outcome: Callable[[VideoOutcome], None] | None = None,
              executor: Executor | None = None) -> list[VideoOutcome]:
    """Score ``videos`` into ``out_dir`` and return their outcomes, in the order of ``videos``.

    Finished outputs are skipped. ``workers`` > 1 scores in that many processes, an ``executor``
    wherever it runs them; ``setup`` runs in each worker before its model loads (it must be
    picklable). ``on_outcome`` is called in this process as each video is done or skipped (for a
    progress bar).

    Raises
    ------
    GenerationError
        The model cannot be loaded (before any video is scored).
    """
    report = on_outcome or (lambda outcome: None)
    outcomes: dict[Path, VideoOutcome] = {}
    to_do: list[Path] = []
    for video in videos:
        done = finished_outcome(video, output_for(video, out_dir))
        if done is None:
            to_do.append(video)
        else:
            outcomes[video] = done
            report(done)
    if to_do:
        # A model that cannot be loaded stops the batch before it writes anything.
        in_process = workers <= 1 and executor is None
        if in_process:
            load_pipeline(model_path, device, cache_dir, setup)
        elif model_path is not None and not Path(model_path).is_file():
            raise GenerationError(f"model not found: {model_path}")
        out_dir.mkdir(parents=True, exist_ok=True)
        work = BatchWork(to_do, out_dir, options, (model_path, device, cache_dir, setup), workers, timeline)

        def record(outcome: VideoOutcome) -> None:
            outcomes[Path(outcome.video)] = outcome
            report(outcome)

        (_run_here if in_process else executor or _run_in_processes)(work, record)
    return [outcomes[video] for video in videos]


def _run_here(work: BatchWork, report: Callable[[VideoOutcome], None]) -> None:
    for video in work.videos:
        report(score_video(video, output_for(video, work.out_dir), work.options, work.timeline))


def _run_in_processes(work: BatchWork, report: Callable[[VideoOutcome], None]) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(work.workers, len(work.videos)), mp_context=context,
                             initializer=load_pipeline, initargs=work.load_args) as pool:
        futures = {pool.submit(score_video, video, output_for(video, work.out_dir), work.options, work.timeline): video
                   for video in work.videos}
        for future in as_completed(futures):
            try:
                report(future.result())
            except BrokenProcessPool:
                # A worker could not load the model (or died): every video it leaves is failed with why.
                report(VideoOutcome(str(futures[future]), FAILED, WORKER_STOPPED))


def write_summary(outcomes: Sequence[VideoOutcome], out_dir: Path) -> tuple[Path, Path]:
    """``out_dir/summary.csv`` and ``out_dir/summary.json``: one row per video."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [asdict(outcome) for outcome in outcomes]
    csv_path, json_path = out_dir / SUMMARY_CSV, out_dir / SUMMARY_JSON
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=VideoOutcome.FIELDS)
        writer.writeheader()
        writer.writerows({key: "" if value is None else value for key, value in row.items()} for row in rows)
    json_path.write_text(json.dumps(rows, indent=2))
    return csv_path, json_path


def summary_line(outcomes: Sequence[VideoOutcome], seconds: float) -> str:
    """One line for the terminal: how many videos were scored, skipped and failed."""
    counts = {status: sum(outcome.status == status for outcome in outcomes) for status in (OK, SKIPPED, FAILED)}
    return (f"{counts[OK]} scored, {counts[SKIPPED]} skipped (already done), {counts[FAILED]} failed "
            f"of {len(outcomes)} videos in {seconds:.1f} s")
