"""The ``diffbgm`` command line.

Each stage adds its commands in its own section below; command bodies stay thin and call into the
package. Errors the user can fix are raised as :class:`click.ClickException` (one line, exit 1).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

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


def _data_default(name: str) -> str | None:
    """``$DIFFBGM_DATA/<name>`` when the variable is set (the layout of the project's shared data)."""
    import os

    root = os.environ.get("DIFFBGM_DATA")
    return os.path.join(root, name) if root else None


@data.command("pop909")
@click.option("--pop909", "pop909_dir", type=click.Path(path_type=Path), default=lambda: _data_default("POP909"),
              help="POP909 folder with <id>/<id>.mid and annotations [default: $DIFFBGM_DATA/POP909]")
@click.option("--structure", "structure_dir", type=click.Path(path_type=Path),
              default=lambda: _data_default("POP909-structure"), help="POP909-structure folder")
@click.option("--split", "split_file", type=click.Path(path_type=Path),
              default=lambda: _data_default("pop909_split.json"), help="JSON {split: [song ids]}")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True, help="output folder")
@click.option("--stride-bars", type=click.IntRange(min=1), default=1, help="hop between windows")
@click.option("--songs", multiple=True, help="only these song ids (repeatable)")
@click.option("--workers", type=click.IntRange(min=1), default=2, help="worker processes")
def data_pop909(pop909_dir, structure_dir, split_file, out_dir, stride_bars, songs, workers) -> None:
    """Cut POP909 into 8-bar windows with chords, key, tempo and per-beat attributes."""
    import logging

    from diffbgm.music.dataset import build_pop909

    for label, value in (("--pop909", pop909_dir), ("--structure", structure_dir), ("--split", split_file)):
        if value is None:
            raise click.ClickException(f"{label} is required (or set DIFFBGM_DATA)")
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        result = build_pop909(pop909_dir, structure_dir, split_file, out_dir, stride_bars=stride_bars,
                              songs=list(songs) or None, workers=workers)
    except (FileNotFoundError, ValueError) as error:
        raise click.ClickException(str(error)) from error
    summary = result.summary
    click.echo(f"songs: {summary['songs']} ({summary['songs_reused']} already built), windows: {summary['windows']} "
               + ", ".join(f"{k} {v}" for k, v in sorted(summary["windows_per_split"].items())))
    skips = ", ".join(f"{reason}: {n}" for reason, n in sorted(summary["skips_by_reason"].items()))
    click.echo(f"skipped: {summary['skipped']}" + (f" ({skips})" if skips else ""))
    click.echo(f"time: {summary['build_seconds']} s; summary in {out_dir / 'summary.json'}")


@cli.command("evaluate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "json_path", type=click.Path(path_type=Path), help="write the results here")
@click.option("--reference", "reference", multiple=True, type=click.Path(path_type=Path),
              help="reference MIDI files/folders; report each metric's difference to them")
@click.option("--gps-positions", type=click.Choice(["16", "64"]), default="16", help="onset positions per bar for GPS")
def evaluate(paths, json_path, reference, gps_positions) -> None:
    """Objective metrics (PCHE, GPS, SI, ...) of MIDI files or folders."""
    import json

    from diffbgm.atomic import atomic_output
    from diffbgm.evaluation.evaluate import EvaluationInputError, evaluate_files, find_midi_files

    try:
        files = find_midi_files(list(paths))
        references = find_midi_files(list(reference)) if reference else []
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    if json_path is not None:
        _check_not_an_input(json_path, [*files, *references], "--json")
    try:
        result = evaluate_files(files, int(gps_positions))
        ref = evaluate_files(references, int(gps_positions)) if reference else None
    except EvaluationInputError as error:
        raise click.ClickException(str(error)) from None
    metrics = [k for k in result if k not in ("n_files", "files")]
    click.echo(f"{'metric':<16}{'value':>10}" + (f"{'reference':>12}{'diff':>10}" if ref else ""))
    for name in metrics:
        line = f"{name:<16}{result[name]:>10.4f}"
        if ref:
            line += f"{ref[name]:>12.4f}{result[name] - ref[name]:>+10.4f}"
        click.echo(line)
    click.echo(f"files: {result['n_files']}" + (f", reference files: {ref['n_files']}" if ref else ""))
    if json_path:
        if ref:
            result["reference"] = {k: v for k, v in ref.items() if k != "files"}
            result["difference"] = {k: result[k] - ref[k] for k in metrics}
        json_path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(json_path) as temp:
            temp.write_text(json.dumps(result, indent=2))


def _check_not_an_input(output: Path, inputs, option: str) -> None:
    """One-line error when ``output`` is a folder or one of ``inputs`` (also through links)."""
    from diffbgm.render.output import OutputPathError, check_output_path

    try:
        check_output_path(output, inputs=tuple(inputs))
    except OutputPathError as error:
        raise click.ClickException(f"{option}: {error}") from None


# --- video commands -------------------------------------------------------------------------------


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "diffbgm" / "video"


@cli.command("analyze")
@click.argument("video", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="output folder  [default: ./<video name>_analysis]")
@click.option("--fps", type=click.FloatRange(min=0.5, max=60), default=8.0, help="analysis frames per second")
@click.option("--detector", type=click.Choice(["content", "adaptive", "threshold", "hash"]), default="content",
              help="PySceneDetect shot detector")
@click.option("--threshold", type=float, default=None, help="detector threshold  [default: per detector]")
@click.option("--cuts", "cuts_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="your own cut list (CSV/JSON of times, or a PySceneDetect scene list) instead of detection")
@click.option("--caption", type=str, default=None, help="your caption for the whole video")
@click.option("--captions", "captions_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="a text file with one caption per shot")
@click.option("--mood", type=str, default=None, help='mood words for the whole video, e.g. "calm, warm"')
@click.option("--no-cache", is_flag=True, help="analyse again even if a cached result exists")
@click.option("--device", default="cpu", help="torch device for the image and text encoders")
def analyze(video, out_dir, fps, detector, threshold, cuts_file, caption, captions_file, mood, no_cache,
            device) -> None:
    """Analyse VIDEO: shots, motion and colour curves, image embeddings, shot captions and moods.

    Writes analysis.json, features.npz and timeline.png into the output folder.
    """
    from diffbgm.atomic import commit_files, staging_folder
    from diffbgm.conditions.text import SentenceEmbedder
    from diffbgm.conditions.user_text import apply_user_text
    from diffbgm.video.analysis import ANALYSIS_FILE, FEATURES_FILE, AnalysisConfig, analyze_video
    from diffbgm.video.decode import VideoError, probe_video
    from diffbgm.video.shots import ShotList
    from diffbgm.video.timeline import TIMELINE_FILE, draw_timeline

    if caption is not None and captions_file is not None:
        raise click.ClickException("give --caption or --captions, not both")
    out_dir = out_dir or Path.cwd() / f"{video.stem}_analysis"
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / ANALYSIS_FILE).is_file():
        raise click.ClickException(f"{out_dir} exists and is not an analysis folder; choose another --out")
    config = AnalysisConfig(fps=fps, detector=detector, threshold=threshold)
    names = (ANALYSIS_FILE, FEATURES_FILE, TIMELINE_FILE)
    for name in names if out_dir.is_dir() else ():
        _check_not_an_input(out_dir / name, [video], "--out")
    try:
        info = probe_video(video)
        cuts = ShotList.from_file(cuts_file, info.duration_s) if cuts_file else None
        captions = caption
        if captions_file is not None:
            captions = [line for line in captions_file.read_text().splitlines() if line.strip()]
        analysis = analyze_video(video, config, progress=True, cache_dir=None if no_cache else _default_cache_dir(),
                                 cuts=cuts, device=device)
        if captions is not None or mood is not None:
            analysis = apply_user_text(analysis, SentenceEmbedder(device=device), captions, mood)
        out_dir.mkdir(parents=True, exist_ok=True)
        # Only the analysis' own files are replaced, all together: nothing else in the folder is touched.
        with staging_folder(out_dir / ANALYSIS_FILE) as staging:
            analysis.save(staging)
            draw_timeline(analysis, staging / TIMELINE_FILE)
            commit_files({name: staging / name for name in names}, {name: out_dir / name for name in names}, staging)
    except (VideoError, ValueError, OSError) as error:
        raise click.ClickException(str(error).splitlines()[0]) from None
    click.echo(f"{len(analysis.shots)} shots in {analysis.duration_s:.1f} s of video; wrote {out_dir}")


@data.command("bgm909")
@click.option("--videos", "videos_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="folder of videos")
@click.option("--midi", "midi_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="folder of MIDI files, one per video with the same file stem")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="output folder (new or empty)")
@click.option("--clip", "clip_dir", type=click.Path(path_type=Path, file_okay=False),
              help="a local CLIP model folder for the 512-d visual features  [default: EfficientNet-Lite0, projected]")
@click.option("--bert", "bert_dir", type=click.Path(path_type=Path, file_okay=False),
              help="a local BERT model folder for the 768-d caption features  [default: MiniLM, zero-padded]")
@click.option("--no-cache", is_flag=True, help="analyse videos again even if cached results exist")
@click.option("--device", default="cpu", help="torch device for the encoders")
def data_bgm909(videos_dir, midi_dir, out_dir, clip_dir, bert_dir, no_cache, device) -> None:
    """Build Diff-BGM's BGM909 feature layout from your own (video, MIDI) pairs, one row per MIDI beat."""
    import logging

    from diffbgm.training.bgm909 import build_bgm909
    from diffbgm.video.decode import VideoError

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    try:
        ids = build_bgm909(videos_dir, midi_dir, out_dir, clip_dir=clip_dir, bert_dir=bert_dir, device=device,
                           cache_dir=None if no_cache else _default_cache_dir(),
                           on_item=lambda song_id: click.echo(f"built {song_id}", err=True))
    except (VideoError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{len(ids)} songs in BGM909 layout; wrote {out_dir}")


# --- model / training commands --------------------------------------------------------------------


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder: checkpoint.safetensors (weights and trainer state), log.csv, loss.png.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out exactly where it stopped.")
@click.option("--init-from", type=click.Path(dir_okay=False), default=None,
              help="Start a new run from this checkpoint's weights (it may lack input channels CONFIG adds, "
                   "e.g. unet.metric_position).")
@click.option("--max-steps", type=click.IntRange(min=1), default=None, help="Override training.max_steps.")
@click.option("--max-minutes", type=click.FloatRange(min=0), default=None,
              help="Override training.max_minutes (0 = no time limit).")
@click.option("--data", "data_root", type=click.Path(file_okay=False), default=None,
              help="Override data.root (the folder `diffbgm data pop909` wrote).")
@click.option("--device", default="cpu", help="Torch device (cpu, cuda).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads for torch (default: torch's choice). On a busy shared machine 1 is often "
                   "much faster than oversubscribed cores.")
def train(config_path, out_dir, resume, init_from, max_steps, max_minutes, data_root, device, threads) -> None:
    """Train the denoiser described by CONFIG (e.g. configs/cpu.yaml); torchrun launches DDP."""
    import logging

    from diffbgm.models.checkpoint import CheckpointError
    from diffbgm.training.checkpoint_state import ResumeError, checkpoint_path, holds_run
    from diffbgm.training.config import ConfigError, check_data, load_config

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    overrides = {}
    if data_root is not None:
        overrides["data.root"] = data_root
    if max_minutes is not None:
        overrides["training.max_minutes"] = max_minutes
    try:
        config = load_config(config_path, overrides)
        check_data(config)
        if not resume and holds_run(out_dir):
            raise ConfigError(f"{out_dir} already holds a run: pass --resume or choose another --out")
        if device.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                raise ConfigError("--device cuda asked for, but torch sees no CUDA device")
        from diffbgm.training.run import train as run_training

        if threads is not None:
            import torch

            torch.set_num_threads(threads)

        result = run_training(config, out_dir, device=device, resume=resume, max_steps=max_steps,
                              init_from=init_from)
    except (ConfigError, ResumeError, CheckpointError) as error:
        raise click.ClickException(str(error)) from None
    state = "stopped early at" if result.stopped_early else "finished at"
    click.echo(f"{state} step {result.step}, loss {result.loss:.4f}; weights in {checkpoint_path(out_dir)}")


@cli.command()
@click.argument("path", metavar="CONFIG_OR_CHECKPOINT", type=click.Path(dir_okay=False))
def info(path) -> None:
    """Summarise the model of a YAML config or a .safetensors checkpoint."""
    from diffbgm.models.summary import describe_checkpoint, summarize
    from diffbgm.training.config import load_config

    try:
        if Path(path).suffix in (".yaml", ".yml"):
            click.echo(f"config: {path}\n" + summarize(load_config(path).model))
        else:
            click.echo(describe_checkpoint(path))
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@cli.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.argument("output", type=click.Path(dir_okay=False))
@click.option("--fp16/--fp32", default=True, help="Store the weights in half precision.")
def export(checkpoint, output, fp16) -> None:
    """Write the EMA weights of a training checkpoint as a small stand-alone weights file."""
    from diffbgm.models.checkpoint import export_weights

    try:
        size = export_weights(checkpoint, output, half=fp16)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"wrote {output} ({size / 1e6:.1f} MB)")


# --- generation commands --------------------------------------------------------------------------


def _generation_default(name: str):
    from diffbgm.pipeline.options import default_of

    return default_of(name)


def _check_device(device: str) -> None:
    """One-line error for a torch device this machine cannot use."""
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise click.ClickException(f"--device must be cpu or cuda[:N], got {device!r}")
    import torch

    if not torch.cuda.is_available():
        raise click.ClickException(f"--device {device} asked for, but torch sees no CUDA device")


def _set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads in torch, OpenCV and the decoder (default: the cores this process may
    use), so that two processes on one machine do not oversubscribe it."""
    import cv2
    import torch

    threads = threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    cv2.setNumThreads(threads)


def _sampler_names() -> list[str]:
    from diffbgm.diffusion.samplers import SAMPLERS

    return list(SAMPLERS)


# Options of `generate` that are not generation options, and so never part of a --regenerate's changes.
_GENERATE_ONLY = ("video", "output", "model_path", "regenerate", "device", "no_cache", "threads")


@cli.command("generate")
@click.argument("video", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="the scored video (.mp4, .mov, .mkv or .m4v); OUT.mid, OUT.wav, OUT.json, OUT.png and OUT.npz "
                   "are written beside it")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
              help="weights file  [default: the model shipped in the package]")
@click.option("--bpm", type=click.FloatRange(min=20, max=300), default=None, help="a fixed tempo instead of fitting cuts")
@click.option("--tempo-range", nargs=2, type=click.FloatRange(min=20, max=300),
              default=_generation_default("tempo_range"), help="lowest and highest tempo the timing may use")
@click.option("--steps", type=click.IntRange(min=1), default=_generation_default("steps"),
              help="diffusion sampling steps")
@click.option("--sampler", type=click.Choice(_sampler_names()), default=_generation_default("sampler"),
              help="diffusion sampler")
@click.option("--guidance", type=float, default=_generation_default("guidance"), help="classifier-free guidance scale")
@click.option("--seed", type=click.IntRange(min=0, max=2**32 - 1), default=_generation_default("seed"),
              help="random seed (same seed and options -> same MIDI)")
@click.option("--mood", type=str, default=None, help='mood words for the whole video, e.g. "calm, warm"')
@click.option("--caption", type=str, default=None, help="your caption for the whole video")
@click.option("--key", type=str, default=_generation_default("key"), metavar='auto|none|"A minor"',
              help='keep the music in this key, e.g. "A minor" or "Eb major"; auto: in the key the first '
                   'window settles in; none: each window chooses its own')
@click.option("--strict-key", is_flag=True,
              help="hold every note to the scale of --key (a model that reads the key otherwise keeps POP909's "
                   "share of passing notes)")
@click.option("--groove", type=str, default=_generation_default("groove"), metavar="auto|none|FILE.mid",
              help="auto: each window keeps the rhythmic figure of the music written before it; none: each "
                   "window chooses its own; FILE.mid: every window takes that file's figure (models that read "
                   "a groove)")
@click.option("--groove-guidance", "groove_guidance", type=float, default=_generation_default("groove_guidance"),
              help="how firmly every bar keeps the groove (extra guidance; 0: off, which saves a third of "
                   "the model evaluations)")
@click.option("--keep-audio", "keep_audio", type=str, default=None, metavar="LEVEL",
              help="mix in the video's own sound at LEVEL (-12dB or a linear gain like 0.25)")
@click.option("--soundfont", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="SoundFont (.sf2) for the synthesis")
@click.option("--regenerate", nargs=2, type=click.FloatRange(min=0), default=None, metavar="START END",
              help="re-write only this time range (seconds) of the earlier result at -o, keep the rest")
@click.option("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads  [default: the cores this process may use]")
@click.option("--no-cache", is_flag=True, help="analyse the video again even if a cached result exists")
@click.pass_context
def generate(ctx, video, output, model_path, regenerate, device, threads, no_cache, **chosen) -> None:
    """Write background music for VIDEO and put it on the picture."""
    import logging

    from diffbgm.pipeline.options import REGENERATE_OPTIONS, GenerationError, GenerationOptions
    from diffbgm.pipeline.outputs import check_outputs
    from diffbgm.video.decode import VideoError, probe_video

    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    if not video.is_file():
        raise click.ClickException(f"video not found: {video}")
    tempo_range = chosen["tempo_range"]
    if tempo_range[0] > tempo_range[1]:
        raise click.ClickException(f"--tempo-range needs LOW <= HIGH, got {tempo_range[0]:g} {tempo_range[1]:g}")
    chosen["tempo_range"] = tuple(tempo_range)
    chosen["soundfont"] = str(chosen["soundfont"]) if chosen["soundfont"] else None
    options = GenerationOptions(**chosen)
    given = {name: value for name, value in chosen.items()
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    _check_device(device)
    created = _make_output_folder(output)
    try:
        # Everything that can be checked is checked before the models load and the video is decoded.
        check_outputs(output, video)
        if regenerate is not None:
            unchangeable = sorted(set(given) - set(REGENERATE_OPTIONS))
            if unchangeable:
                raise GenerationError(f"cannot change {', '.join('--' + n.replace('_', '-') for n in unchangeable)} "
                                      f"when regenerating (only {', '.join(REGENERATE_OPTIONS)})")
        (options if regenerate is None else dataclasses.replace(GenerationOptions(), **given)).check()
        probe_video(video)
        _set_threads(threads)
        result = _run_generation(video, output, model_path, regenerate, device, no_cache, options, given)
    except (GenerationError, VideoError) as error:
        _remove_empty_folders(created)
        raise click.ClickException(str(error)) from None
    except BaseException:
        _remove_empty_folders(created)
        raise
    plan = result.plan
    click.echo(f"{plan.n_bars} bars at {plan.tempo_bpm:.0f} BPM (median), "
               f"{100 * plan.aligned_fraction:.0f} % of {len(plan.cuts_s)} cuts on downbeats; wrote {output} "
               f"and {', '.join(Path(name).name for key, name in result.manifest['files'].items() if key != 'video')}")


def _run_generation(video, output, model_path, regenerate, device, no_cache, options, given):
    """Load the pipeline, generate (or regenerate) and save; user-fixable failures become GenerationError."""
    from diffbgm.pipeline.options import GenerationError
    from diffbgm.pipeline.scoring import ScoringPipeline
    from diffbgm.render.audio import SynthesisError
    from diffbgm.render.mux import MuxError
    from diffbgm.video.decode import VideoError

    try:
        pipeline = ScoringPipeline.from_checkpoint(model_path, device=device,
                                                   cache_dir=None if no_cache else _default_cache_dir())
        if regenerate is not None:
            result = pipeline.regenerate(video, output, regenerate[0], regenerate[1], overrides=given)
        else:
            result = pipeline.generate(video, options)
        result.save(output)
    except (VideoError, SynthesisError, MuxError, OSError) as error:
        raise GenerationError(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    return result


def _make_output_folder(output: Path) -> list[Path]:
    """Create the missing folders above ``output`` (as ``mkdir -p``); return them, deepest first."""
    missing = [folder for folder in [output.absolute().parent, *output.absolute().parent.parents]
               if not folder.exists()]
    try:
        output.absolute().parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise click.ClickException(f"cannot create the output folder {output.parent}: {error.strerror}") from None
    return missing


def _remove_empty_folders(folders: list[Path]) -> None:
    """Undo :func:`_make_output_folder` after a failure, so that a failed run leaves nothing behind."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def main() -> None:
    """Console-script entry point."""
    cli()


if __name__ == "__main__":
    main()
