"""``diffbgm analyze``: what the model will be told about a video."""

from __future__ import annotations

from pathlib import Path

import click

from diffbgm.cli.environment import default_cache_dir
from diffbgm.cli.paths import check_not_an_input
from diffbgm.cli.terminal import echo_details, quiet_option, set_up_output, verbose_option
from diffbgm.video.analysis import AnalysisConfig
from diffbgm.video.shots import DETECTORS


@click.command("analyze")
@click.argument("video", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
              help="output folder  [default: ./<video name>_analysis]")
@click.option("--fps", type=click.FloatRange(min=0.5, max=60), default=AnalysisConfig.fps,
              help="analysis frames per second")
@click.option("--detector", type=click.Choice(DETECTORS), default=AnalysisConfig.detector,
              help="PySceneDetect shot detector")
@click.option("--threshold", type=float, default=None, help="detector threshold  [default: per detector]")
@click.option("--cuts", "cuts_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="your cut list instead of detection: times (s or timecode), JSON, a PySceneDetect CSV, or an "
                   "editor's CMX 3600 EDL, Final Cut Pro XML or .otio")
@click.option("--caption", type=str, default=None, help="your caption for the whole video")
@click.option("--captions", "captions_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="captions per shot: one line per shot, 'START<TAB>caption' lines, or .srt/.vtt subtitles")
@click.option("--mood", type=str, default=None, help='mood words for the whole video, e.g. "calm, warm"')
@click.option("--no-cache", is_flag=True, help="analyse again even if a cached result exists")
@click.option("--device", default="cpu", help="torch device for the image and text encoders")
@quiet_option
@verbose_option
def analyze(video, out_dir, fps, detector, threshold, cuts_file, caption, captions_file, mood, no_cache,
            device, quiet, verbose) -> None:
    """Show what the model is told about VIDEO.

    Shots, motion and colour curves, image embeddings, shot captions and moods.

    Writes analysis.json, features.npz and timeline.png into the output folder.
    """
    from diffbgm.atomic import commit_files, staging_folder
    from diffbgm.conditions.text import SentenceEmbedder
    from diffbgm.conditions.user_text import apply_user_text
    from diffbgm.video.analysis import ANALYSIS_FILE, FEATURES_FILE, analyze_video
    from diffbgm.video.caption_file import captions_for_shots, read_captions
    from diffbgm.video.decode import VideoError, probe_video
    from diffbgm.video.shots import ShotList
    from diffbgm.video.timeline import TIMELINE_FILE, draw_timeline

    bars = set_up_output(quiet, verbose)
    if caption is not None and captions_file is not None:
        raise click.ClickException("give --caption or --captions, not both")
    out_dir = out_dir or Path.cwd() / f"{video.stem}_analysis"
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / ANALYSIS_FILE).is_file():
        raise click.ClickException(f"{out_dir} exists and is not an analysis folder; choose another --out")
    config = AnalysisConfig(fps=fps, detector=detector, threshold=threshold)
    names = (ANALYSIS_FILE, FEATURES_FILE, TIMELINE_FILE)
    for name in names if out_dir.is_dir() else ():
        check_not_an_input(out_dir / name, [video], "--out")
    try:
        info = probe_video(video)
        cuts = ShotList.from_file(cuts_file, info.duration_s, info.fps) if cuts_file else None
        entries = read_captions(captions_file) if captions_file is not None else None
        analysis = analyze_video(video, config, progress=bars, cache_dir=None if no_cache else default_cache_dir(),
                                 cuts=cuts, device=device)
        captions = caption if entries is None else captions_for_shots(entries, analysis.shots)
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
    if quiet:
        return
    click.echo(f"{len(analysis.shots)} shots in {analysis.duration_s:.1f} s of video; wrote {out_dir}")
    if verbose:
        echo_details({}, cuts=", ".join(f"{cut:.2f}" for cut in analysis.cuts_s) + " s" if len(analysis.cuts_s) else "none",
                     shots=", ".join(f"{start:.2f}-{end:.2f}" for start, end in analysis.shots) + " s")
