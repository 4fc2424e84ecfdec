"""``diffbgm generate``: score a video."""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import click

from diffbgm.cli.environment import check_device, default_cache_dir, prepare_worker, set_threads, threads_per_worker
from diffbgm.cli.paths import make_output_folder, remove_empty_folders
from diffbgm.cli.terminal import StageBar, echo_details, quiet_option, set_up_output, shows_bars, verbose_option
from diffbgm.music.grid import BEATS_PER_BAR


def _generation_default(name: str):
    from diffbgm.pipeline.options import default_of

    return default_of(name)


def _sampler_names() -> list[str]:
    from diffbgm.diffusion.samplers import SAMPLERS

    return list(SAMPLERS)


@click.command("generate")
@click.argument("videos", metavar="VIDEO...", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="the scored video (.mp4, .mov, .mkv or .m4v); OUT.mid, OUT.wav, OUT.json, OUT.png and OUT.npz "
                   "are written beside it. With several videos, a folder of videos, or an existing folder as -o: "
                   "the folder that gets every video scored under its own name (.webm and .avi as .mkv), with "
                   "its side files, and summary.csv and summary.json")
@click.option("--workers", type=click.IntRange(min=1), default=1,
              help="videos scored at once, in as many processes (each loads the model; the threads are shared "
                   "out)")
@click.option("--ray", "ray_address", type=str, default=None, metavar="auto|ADDRESS",
              help="score the batch on a Ray cluster, --workers actors each holding its share of --threads CPUs: "
                   "auto (the running cluster, else a local one) or the head's ADDRESS; needs "
                   "pip install 'diffbgm[ray]'")
@click.option("--model", "model_path", type=click.Path(path_type=Path, dir_okay=False),
              help="weights file  [default: the model shipped in the package]")
@click.option("--bpm", type=click.FloatRange(min=20, max=300), default=None, help="a fixed tempo instead of fitting cuts")
@click.option("--tempo-range", nargs=2, type=click.FloatRange(min=20, max=300),
              default=None, help="lowest and highest tempo the timing may use  [default: from the mood and the picture]")
@click.option("--steps", type=click.IntRange(min=1), default=_generation_default("steps"),
              help="diffusion sampling steps")
@click.option("--sampler", type=click.Choice(_sampler_names()), default=_generation_default("sampler"),
              help="diffusion sampler")
@click.option("--guidance", type=float, default=_generation_default("guidance"), help="classifier-free guidance scale")
@click.option("--seed", type=int, default=None,
              help="random seed (same seed and options -> same MIDI)  [default: from the video's content]")
@click.option("--mood", type=str, default=None, help='mood words for the whole video, e.g. "calm, warm"')
@click.option("--caption", type=str, default=None, help="your caption for the whole video")
@click.option("--captions", "captions_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="captions per shot: one line per shot, 'START<TAB>caption' lines, or .srt/.vtt subtitles")
@click.option("--cuts", "cuts_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="your cut list instead of shot detection: times (s or timecode), JSON, a PySceneDetect CSV, "
                   "or an editor's CMX 3600 EDL, Final Cut Pro XML or .otio")
@click.option("--otio", "write_otio", is_flag=True,
              help="also write OUT.otio: the picture, the music and a marker on every downbeat, for your editor")
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
              help="mix the video's own sound at LEVEL (-12dB or a linear gain like 0.25) into the scored video; "
                   "OUT.wav keeps the music alone")
@click.option("--soundfont", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="SoundFont (.sf2) for the synthesis")
@click.option("--regenerate", nargs=2, type=click.FloatRange(min=0), default=None, metavar="START END",
              help="re-write only this time range (seconds) of the earlier result at -o, keep the rest")
@click.option("--device", default="cpu", help="torch device (cpu, cuda, cuda:1)")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="CPU threads  [default: the cores this process may use]")
@click.option("--no-cache", is_flag=True, help="analyse the video again even if a cached result exists")
@quiet_option
@verbose_option
@click.pass_context
def generate(ctx, videos, output, workers, ray_address, model_path, regenerate, device, threads, no_cache,
             captions_file, cuts_file, write_otio, quiet, verbose, **chosen) -> None:
    """Write background music for VIDEO and put it on the picture.

    Several videos, or a folder of videos, are scored into the folder -o; videos already scored
    there are skipped, so that a rerun resumes, and one that fails does not stop the others.
    """
    from diffbgm.pipeline.options import REGENERATE_OPTIONS, GenerationError, GenerationOptions
    from diffbgm.pipeline.outputs import check_outputs
    from diffbgm.video.caption_file import CaptionFileError, read_captions
    from diffbgm.video.cutlist import CutListError, read_cut_list
    from diffbgm.render.mux import MuxError, check_copyable
    from diffbgm.video.decode import VideoError, probe_video

    bars = set_up_output(quiet, verbose)
    if len(videos) > 1 or videos[0].is_dir() or output.is_dir():
        _generate_batch(ctx, videos, output, workers, model_path, device, threads, no_cache, write_otio, quiet,
                        verbose, chosen, refused={"--regenerate": regenerate, "--cuts": cuts_file,
                                                  "--captions": captions_file}, ray_address=ray_address)
        return
    if ray_address is not None:
        raise click.ClickException("--ray scores a batch: give several videos, a folder, or an existing folder as -o")
    video = videos[0]
    if not video.is_file():
        raise click.ClickException(f"video not found: {video}")
    try:
        options = _options_of(chosen)
    except GenerationError as error:
        raise click.ClickException(str(error)) from None
    given = {name: getattr(options, name) for name in chosen
             if ctx.get_parameter_source(name) is not click.core.ParameterSource.DEFAULT}
    check_device(device)
    created = make_output_folder(output)
    try:
        # Everything that can be checked is checked before the models load and the video is decoded.
        check_outputs(output, video, write_otio)
        if regenerate is not None:
            unchangeable = sorted(set(given) - set(REGENERATE_OPTIONS))
            if unchangeable:
                raise GenerationError(f"cannot change {', '.join('--' + n.replace('_', '-') for n in unchangeable)} "
                                      f"when regenerating (only {', '.join(REGENERATE_OPTIONS)})")
        (options if regenerate is None else dataclasses.replace(GenerationOptions(), **given)).check()
        info = probe_video(video)
        check_copyable(video, output)
        if options.keep_audio is not None and not info.has_audio:
            click.echo(f"Warning: {video.name} has no sound; --keep-audio has nothing to mix, the scored video "
                       f"gets the music alone", err=True)
        edits = {}
        if cuts_file is not None:
            edits["cuts"] = read_cut_list(cuts_file, info.duration_s, info.fps)
        if captions_file is not None:
            edits["captions"] = read_captions(captions_file)
        if edits and regenerate is not None:
            raise GenerationError("--cuts and --captions shape a new generation; they cannot change a --regenerate")
        set_threads(threads)
        with StageBar(video.name, bars) as bar:
            result = _run_generation(video, output, model_path, regenerate, device, no_cache, options, given, edits,
                                     write_otio, bar)
    except (GenerationError, VideoError, CutListError, CaptionFileError, MuxError) as error:
        remove_empty_folders(created)
        raise click.ClickException(str(error)) from None
    except BaseException:
        remove_empty_folders(created)
        raise
    if quiet:
        return
    plan = result.plan
    short = int((plan.bar_beats != BEATS_PER_BAR).sum())
    metre = f", {short} of them short (2/4 or 3/4)" if short else ""
    cuts = (f"{int(plan.cut_aligned.sum())} of {len(plan.cuts_s)} cuts on downbeats" if len(plan.cuts_s)
            else "no cuts")
    click.echo(f"{plan.n_bars} bars at {plan.tempo_bpm:.0f} BPM (median){metre}, {cuts}; wrote {output} "
               f"and {', '.join(Path(name).name for key, name in result.manifest['files'].items() if key != 'video')}")
    if verbose:
        echo_details(result.timings_s, tempo=f"{plan.tempo_bpm:.1f} BPM median, bars at "
                                             f"{', '.join(f'{bpm:.0f}' for bpm in plan.bar_bpm)} BPM",
                     cuts=", ".join(f"{cut:.2f}" for cut in plan.cuts_s) + " s" if len(plan.cuts_s) else "none",
                     seed=str(result.options.seed))


def _run_generation(video, output, model_path, regenerate, device, no_cache, options, given, edits, write_otio,
                    progress):
    """Load the pipeline, generate (or regenerate) and save; user-fixable failures become GenerationError."""
    from diffbgm.pipeline.options import GenerationError
    from diffbgm.pipeline.scoring import ScoringPipeline
    from diffbgm.render.audio import SynthesisError
    from diffbgm.render.mux import MuxError
    from diffbgm.video.decode import VideoError

    try:
        progress("loading the model", 0, 1)
        pipeline = ScoringPipeline.from_checkpoint(model_path, device=device,
                                                   cache_dir=None if no_cache else default_cache_dir())
        if regenerate is not None:
            result = pipeline.regenerate(video, output, regenerate[0], regenerate[1], overrides=given,
                                         progress=progress)
        else:
            result = pipeline.generate(video, options, progress=progress, **edits)
        progress("write", 0, 1)
        result.save(output, timeline=write_otio)
        progress("write", 1, 1)
    except (VideoError, SynthesisError, MuxError, OSError) as error:
        raise GenerationError(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
    return result


def _generate_batch(ctx, inputs, out_dir, workers, model_path, device, threads, no_cache, write_otio, quiet, verbose,
                    chosen, refused, ray_address=None) -> None:
    """Score every video of ``inputs`` into ``out_dir``; exit 1 when any failed."""
    from tqdm import tqdm

    from diffbgm.pipeline.batch import FAILED, collect_videos, run_batch, summary_line, write_summary
    from diffbgm.pipeline.options import GenerationError

    given = [option for option, value in refused.items() if value is not None]
    if given:
        raise click.ClickException(f"{', '.join(given)} belong to one video; they cannot be given to a batch")
    if out_dir.exists() and not out_dir.is_dir():
        raise click.ClickException(f"-o {out_dir} is a file; several videos need a folder")
    check_device(device)
    started = time.perf_counter()
    try:
        videos = collect_videos(inputs)
        options = _options_of(chosen)
        options.check()
        executor = None
        if ray_address is not None:
            from diffbgm.pipeline.ray_batch import ray_executor

            executor = ray_executor(ray_address, threads_per_worker(threads, workers))
        with tqdm(total=len(videos), unit="video", desc="scoring", leave=False,
                  disable=not shows_bars(quiet)) as bar:
            def advance(outcome) -> None:
                bar.set_postfix_str(f"{Path(outcome.video).name}: {outcome.status}", refresh=False)
                bar.update()

            outcomes = run_batch(videos, out_dir, options, model_path=model_path, device=device,
                                 cache_dir=None if no_cache else default_cache_dir(), workers=workers,
                                 timeline=write_otio, on_outcome=advance, executor=executor,
                                 setup=functools.partial(prepare_worker, threads_per_worker(threads, workers)))
    except GenerationError as error:
        raise click.ClickException(str(error)) from None
    csv_path, _ = write_summary(outcomes, out_dir)
    failed = [outcome for outcome in outcomes if outcome.status == FAILED]
    for outcome in failed:
        click.echo(f"failed: {outcome.video}: {outcome.error}", err=True)
    if not quiet:
        click.echo(f"{summary_line(outcomes, time.perf_counter() - started)}; summary in {csv_path}")
    if verbose and not quiet:
        for outcome in outcomes:
            if outcome.tempo_bpm is not None:
                click.echo(f"  {Path(outcome.video).name}: {outcome.status}, {outcome.tempo_bpm:.0f} BPM, "
                           f"{100 * (outcome.cuts_on_downbeats or 0):.0f} % of cuts on downbeats, "
                           f"{outcome.seconds:.1f} s")
    if failed:
        ctx.exit(1)


def _options_of(chosen: dict):
    """The generation options of the command's parsed options."""
    from diffbgm.pipeline.options import GenerationError, GenerationOptions

    chosen = dict(chosen)
    tempo_range = chosen["tempo_range"]
    if tempo_range is not None:
        if tempo_range[0] > tempo_range[1]:
            raise GenerationError(f"--tempo-range needs LOW <= HIGH, got {tempo_range[0]:g} {tempo_range[1]:g}")
        chosen["tempo_range"] = tuple(tempo_range)
    chosen["soundfont"] = str(chosen["soundfont"]) if chosen["soundfont"] else None
    return GenerationOptions(**chosen)
