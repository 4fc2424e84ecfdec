"""A generation's files: where they go, the manifest, and writing them all or none.

``OUT.mp4`` and, beside it, ``OUT.mid``, ``OUT.wav``, ``OUT.json``, ``OUT.png`` and ``OUT.npz`` are
staged in a hidden folder and moved into place together (:mod:`diffbgm.atomic`); on failure none
appear and earlier ones are kept.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from diffbgm.atomic import commit_files, remove_stale_staging, staging_folder
from diffbgm.music.timing import TimingPlan, plan_from_beats
from diffbgm.pipeline.options import GenerationError, GenerationOptions
from diffbgm.pipeline.windows import Score
from diffbgm.render.audio import write_wav
from diffbgm.render.mux import mux_audio
from diffbgm.render.output import OutputPathError, check_output_path
from diffbgm.render.picture import render_picture

MANIFEST_FORMAT = "diffbgm-generation"
MANIFEST_VERSION = 1
SIDE_SUFFIXES = (".mid", ".wav", ".json", ".png", ".npz")
TIMELINE_SUFFIX = ".otio"
# What the scored video may be written as: containers that take the source's video stream unchanged.
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


def side_paths(output: str | Path, timeline: bool = False) -> dict[str, Path]:
    """``OUT.mp4`` -> the paths of every output, keyed ``video``, ``mid``, ``wav``, ``json``, ``png``, ``npz``
    (and ``otio`` with ``timeline``)."""
    output = Path(output)
    paths = {"video": output}
    suffixes = SIDE_SUFFIXES + ((TIMELINE_SUFFIX,) if timeline else ())
    paths.update({suffix[1:]: output.with_suffix(suffix) for suffix in suffixes})
    return paths


def check_outputs(output: str | Path, video: str | Path, timeline: bool = False) -> dict[str, Path]:
    """Every output path of ``output``, checked before any work (:class:`GenerationError` otherwise)."""
    output = Path(output)
    if output.suffix.lower() not in VIDEO_SUFFIXES:
        raise GenerationError(f"output {output} must be a video file ending in {', '.join(VIDEO_SUFFIXES)}")
    paths = side_paths(output, timeline)
    # A writer killed while it moved its files into place left a half-moved set: finish it first.
    remove_stale_staging(output.absolute().parent)
    try:
        for path in paths.values():
            check_output_path(path, inputs=(video,))
    except OutputPathError as error:
        raise GenerationError(str(error)) from None
    return paths


def sha256_of(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def plan_manifest(plan: TimingPlan) -> dict:
    """The timing part of the manifest (what :func:`read_result` rebuilds the plan from)."""
    n_cuts = len(plan.cuts_s)
    return {
        "duration_s": plan.duration_s,
        "tempo_bpm": plan.tempo_bpm,
        "n_bars": plan.n_bars,
        "bar_bpm": plan.bar_bpm.tolist(),
        "beats_s": plan.beats_s.tolist(),
        "downbeats_s": plan.downbeats_s.tolist(),
        "bar_beats": plan.bar_beats.tolist(),
        "music_end_s": plan.music_end_s,
        "cuts_s": plan.cuts_s.tolist(),
        "cut_error_steps": plan.cut_error_steps.tolist(),
        "accents_s": plan.accents_s.tolist(),
        "max_tempo_step": plan.max_tempo_step,
        "cut_alignment": {
            "tolerance_steps": plan.aligned_tolerance_steps,
            "aligned_fraction": plan.aligned_fraction,
            "n_cuts": n_cuts,
            "n_aligned": int(plan.cut_aligned.sum()),
            "mean_error_steps": float(plan.cut_error_steps.mean()) if n_cuts else 0.0,
            "max_error_steps": float(plan.cut_error_steps.max()) if n_cuts else 0.0,
        },
    }


def read_result(output: str | Path) -> tuple[dict, GenerationOptions, Score, TimingPlan]:
    """The manifest, options, score and plan of an earlier result at ``output`` (for a regeneration)."""
    paths = side_paths(output)
    for key in ("json", "npz"):
        if not paths[key].is_file():
            raise GenerationError(f"no earlier result to regenerate: {paths[key]} is missing")
    try:
        manifest = json.loads(paths["json"].read_text())
        if manifest.get("format") != MANIFEST_FORMAT:
            raise ValueError("not a diffbgm manifest")
        options = GenerationOptions.from_dict(manifest["options"])
        score = Score.load(paths["npz"])
        plan = plan_from_beats(manifest["beats_s"], manifest["duration_s"], manifest["cuts_s"],
                               accents_s=manifest.get("accents_s", ()), bar_beats=manifest.get("bar_beats"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise GenerationError(f"cannot read the earlier result {paths['json']}: {error}") from None
    return manifest, options, score, plan


def write_outputs(result, output: str | Path, timeline: bool = False) -> dict[str, Path]:
    """Write a :class:`~diffbgm.pipeline.scoring.GenerationResult` as ``output`` and its side files.

    The picture is muxed with the music (the video stream is copied, not re-encoded); everything is
    staged and committed together. ``timeline`` adds ``OUT.otio``: the source clip, the music and a
    marker on every downbeat and cut, for an editor's NLE.
    """
    paths = check_outputs(output, result.video, timeline)
    # The staging folder outlives the pool, whose exit waits for the muxing even when a write fails.
    with staging_folder(paths["video"]) as staging, ThreadPoolExecutor(max_workers=1) as pool:
        staged = {key: staging / path.name for key, path in paths.items()}
        # FFmpeg's AAC encoder, the longest of these writes, releases the GIL: the other files are
        # written meanwhile.
        muxed = pool.submit(mux_audio, result.video, result.audio, staged["video"])
        result.midi.write(str(staged["mid"]))
        write_wav(result.music_only, staged["wav"])
        render_picture(result.roll, result.plan, staged["png"], shots=result.manifest.get("shots"),
                       transitions=result.manifest.get("transitions"))
        result.score.save(staged["npz"])
        if timeline:
            from diffbgm.render.timeline import score_timeline, write_timeline
            from diffbgm.video.decode import probe_video

            plan = result.plan
            # The timeline names the files where they will be, not where they are staged.
            write_timeline(score_timeline(result.video.resolve(), plan.duration_s, plan.daw_bar_lines_s.tolist(),
                                          plan.cuts_s.tolist(), paths["wav"].resolve(), probe_video(result.video).fps),
                           staged["otio"])
        manifest = {**result.manifest, "files": {key: path.name for key, path in paths.items()}}
        staged["json"].write_text(json.dumps(manifest, indent=2))
        muxed.result()
        commit_files(staged, paths, staging)
    result.manifest = manifest
    return paths
