"""``diffbgm data``: training data sets (POP909 windows, the BGM909 layout)."""

from __future__ import annotations

from pathlib import Path

import click

from diffbgm.cli.environment import default_cache_dir


@click.group()
def data() -> None:
    """Build training data sets (POP909 windows, BGM909 layout)."""


def _data_default(name: str) -> str | None:
    """``$DIFFBGM_DATA/<name>`` when the variable is set (the layout of the project's shared data)."""
    import os

    root = os.environ.get("DIFFBGM_DATA")
    return os.path.join(root, name) if root else None


@data.command("pop909", short_help="Cut POP909 into 8-bar training windows.")
@click.option("--pop909", "pop909_dir", type=click.Path(path_type=Path), default=lambda: _data_default("POP909"),
              show_default=False,
              help="POP909 folder with <id>/<id>.mid and annotations  [default: $DIFFBGM_DATA/POP909]")
@click.option("--structure", "structure_dir", type=click.Path(path_type=Path),
              default=lambda: _data_default("POP909-structure"), show_default=False,
              help="POP909-structure folder  [default: $DIFFBGM_DATA/POP909-structure]")
@click.option("--split", "split_file", type=click.Path(path_type=Path),
              default=lambda: _data_default("pop909_split.json"), show_default=False,
              help="JSON {split: [song ids]}  [default: $DIFFBGM_DATA/pop909_split.json]")
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


@data.command("bgm909", short_help="Build the BGM909 feature layout from your (video, MIDI) pairs.")
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
                           cache_dir=None if no_cache else default_cache_dir(),
                           on_item=lambda song_id: click.echo(f"built {song_id}", err=True))
    except (VideoError, ValueError, OSError) as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"{len(ids)} songs in BGM909 layout; wrote {out_dir}")
