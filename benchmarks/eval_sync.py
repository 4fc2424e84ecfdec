"""End-to-end sync of the shipped model's scores with realistic edits (figures printed, never asserted).

    python3 benchmarks/eval_sync.py                        # the corpus of eval_sync_video.py (28 clips)
    python3 benchmarks/eval_sync.py --steps 2 --json sync.json
    python3 benchmarks/eval_sync.py --long                 # also a 10-minute clip

Every clip (tests/footage.py: real photographs with the editor's ground truth) is scored by
``ScoringPipeline.generate`` with the shipped model and saved (OUT.mp4 and its side files) into a
temporary folder. Per class of clip and overall:
- cuts: share of true boundaries (hard cuts, transition points) found within one source frame;
  boundaries found inside continuous shots;
- length: share of outputs whose audio (the muxed .mp4's audio stream, the .wav) ends within one
  frame of the end of the input's video stream; outputs longer than it (by more than 1 ms);
- sync: share of boundaries within 40 ms of a downbeat, those the planner was given ("found") and
  the editor's ("true"), and of true boundaries within 40 ms of a beat; the share of true boundaries
  where the music strikes a note (within 40 ms: what a listener hears of the cut); "4/4 ceil": the
  most any grid of 4/4 bars within the step limit could put on downbeats (bars of 2/4 and 3/4 go
  beyond it);
- tempo: the largest step between neighbouring bars, tempo changes (> 2 %) per minute, and bars of
  other than 4 beats (metre changes) per minute; the share of bar lines after a short bar and after a
  4/4 bar where the music strikes a note ("hit>short", "hit>4/4": does the model hear a short bar's
  end as a bar line?).
Then the mood: every clip of at least 8 s is planned with --mood "calm, sad, slow" and with
--mood "energetic, happy, fast" through the pipeline's own mood-to-tempo path (the mood changes only
the tempo plan, so no diffusion runs for it): the median bar tempo of each, and whether the second
is at least 20 BPM faster on every such clip.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import wave
from collections import defaultdict
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_timing import forced_misses  # noqa: E402
from eval_sync_video import corpus, score  # noqa: E402
from footage import Truth, write_clip  # noqa: E402

from diffbgm.conditions.user_text import apply_user_text  # noqa: E402
from diffbgm.music.sync_metrics import cut_errors, tempo_changes_per_minute  # noqa: E402
from diffbgm.music.timing import TimingConfig, TimingPlan  # noqa: E402
from diffbgm.pipeline.options import GenerationOptions  # noqa: E402
from diffbgm.pipeline.scoring import timing_config_for, timing_plan  # noqa: E402

TOLERANCE_S = 0.04  # a boundary "on" a downbeat or beat
LONGER_TOLERANCE_S = 1e-3
MOODS = ("calm, sad, slow", "energetic, happy, fast")
MOOD_MIN_S = 8.0  # clips long enough for a tempo to be heard
MOOD_GAP_BPM = 20.0
TARGETS = {"downbeats overall": 0.95, "downbeats per class": 0.90, "max tempo step": 0.10}


def config_for_mood(analysis, embedder, mood: str | None) -> TimingConfig:
    """The planner's options ``ScoringPipeline.generate`` takes for ``analysis`` with ``--mood mood``
    (and no --bpm or --tempo-range)."""
    return timing_config_for(apply_user_text(analysis, embedder, None, mood), GenerationOptions(mood=mood))


def plan_with_mood(analysis, embedder, mood: str | None) -> TimingPlan:
    """The tempo plan ``ScoringPipeline.generate`` makes for ``analysis`` with ``--mood mood`` (its
    analysis-to-timing steps, without the diffusion)."""
    return timing_plan(apply_user_text(analysis, embedder, None, mood), GenerationOptions(mood=mood))


def plan_sync(truth: Truth, plan: TimingPlan, config: TimingConfig, note_starts_s=()) -> dict:
    """How the plan's grid meets the boundaries and how steady its tempo is; ``reachable``: how many
    true boundaries at most any grid of 4/4 bars within the config's tempo range and step limit puts
    on downbeats (``bench_timing.forced_misses``); ``struck``: whether the music starts a note at each
    true boundary (``note_starts_s``: every note's start)."""
    true = [t for t in truth.boundaries_s if 0.0 < t < plan.duration_s]
    found, edited = cut_errors(plan.cuts_s, plan.beats_s, plan.bar_beats), cut_errors(true, plan.beats_s, plan.bar_beats)
    starts = np.sort(np.asarray(note_starts_s, dtype=np.float64))

    def struck_at(time_s: float) -> bool:
        return bool(len(starts)) and bool(np.abs(starts - time_s).min() <= TOLERANCE_S + 1e-12)

    # Every bar line inside the video after a whole bar, by the length of the bar before it.
    lines = [(plan.downbeats_s[i], plan.bar_beats[i - 1]) for i in range(1, plan.n_bars)
             if 0.0 <= plan.downbeats_s[i - 1] and plan.downbeats_s[i] < plan.duration_s]
    return dict(
        struck=[struck_at(t) for t in true],
        struck_after_short=[struck_at(t) for t, beats in lines if beats != 4],
        struck_after_4_4=[struck_at(t) for t, beats in lines if beats == 4],
        short_bars_per_minute=float(np.sum(plan.bar_beats != 4) * 60.0 / plan.duration_s),
        reachable=len(true) - forced_misses(plan.duration_s, np.array(true), config.bpm_range, config.max_tempo_step),
        found_on_downbeat=(found.downbeat_s <= TOLERANCE_S + 1e-12).tolist(),
        true_on_downbeat=(edited.downbeat_s <= TOLERANCE_S + 1e-12).tolist(),
        true_on_beat=(edited.beat_s <= TOLERANCE_S + 1e-12).tolist(),
        max_tempo_step=plan.max_tempo_step,
        changes_per_minute=tempo_changes_per_minute(plan.bar_bpm, plan.duration_s),
        median_bpm=float(np.median(plan.bar_bpm)),
    )


def _stream_end_s(path: Path, kind: str) -> tuple[float, float]:
    """First and end time of a stream's stored packets (what the container says it plays)."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        packets = [(p.pts, p.duration or 0) for p in container.demux(stream) if p.pts is not None and p.size]
    return (float(min(pts for pts, _ in packets) * stream.time_base),
            float(max(pts + d for pts, d in packets) * stream.time_base))


def output_lengths(video_out: Path, wav: Path, truth: Truth) -> dict:
    """Where the muxed audio stream, the .wav and the copied video end, in seconds on the input's time
    axis (the output's axis is moved onto the input's by its first video frame, copied as is), and
    where FFmpeg's AAC decoder stops (it keeps the padding of the last frame: up to 1024 samples)."""
    first_video_s, video_end_s = _stream_end_s(video_out, "video")
    _, audio_end_s = _stream_end_s(video_out, "audio")
    with av.open(str(video_out)) as container:
        first_s, samples, rate = None, 0, 1
        for frame in container.decode(audio=0):
            first_s = frame.time if first_s is None else first_s
            samples, rate = samples + frame.samples, frame.sample_rate
    with wave.open(str(wav), "rb") as reader:
        wav_s = reader.getnframes() / reader.getframerate()
    shift = truth.frame_times_s[0] - first_video_s
    return dict(mp4_audio_s=audio_end_s + shift, wav_s=wav_s, mp4_video_s=video_end_s + shift,
                decoded_audio_s=(first_s or 0.0) + samples / rate + shift)


def length_scores(lengths: dict, truth: Truth) -> dict:
    period = truth.frame_period_s
    stored = [lengths[k] for k in ("mp4_audio_s", "wav_s", "mp4_video_s")]
    return dict(
        mp4_audio_ok=abs(lengths["mp4_audio_s"] - truth.length_s) <= period,
        wav_ok=abs(lengths["wav_s"] - truth.length_s) <= period,
        longer=max(stored) > truth.length_s + LONGER_TOLERANCE_S,
        decoded_over_s=max(0.0, lengths["decoded_audio_s"] - truth.length_s),
    )


def summarise(rows: list[dict]) -> dict:
    """One class's (or all clips') figures from their per-clip rows."""
    def flat(key):
        return np.array([v for r in rows for v in r[key]], dtype=float)

    def share(values):
        return float(np.mean(values)) if len(values) else None

    errors = flat("cut_errors_frames")
    return dict(
        clips=len(rows), boundaries=len(errors), cut_within_1_frame=share(errors <= 1),
        false_cuts=sum(r["false"] for r in rows), false_inside_shots=sum(r["false_inside"] for r in rows),
        mp4_audio_within_1_frame=share([r["mp4_audio_ok"] for r in rows]),
        wav_within_1_frame=share([r["wav_ok"] for r in rows]), longer_than_video=sum(r["longer"] for r in rows),
        decoded_over_ms=1000 * max(r["decoded_over_s"] for r in rows),
        found_on_downbeat=share(flat("found_on_downbeat")), true_on_downbeat=share(flat("true_on_downbeat")),
        reachable=sum(r["reachable"] for r in rows) / max(1, len(flat("true_on_downbeat"))),
        true_on_beat=share(flat("true_on_beat")), max_tempo_step=max(r["max_tempo_step"] for r in rows),
        changes_per_minute=float(np.mean([r["changes_per_minute"] for r in rows])),
        struck=share(flat("struck")),
        struck_after_short=share(flat("struck_after_short")), struck_after_4_4=share(flat("struck_after_4_4")),
        short_bars_per_minute=float(np.mean([r["short_bars_per_minute"] for r in rows])),
    )


def print_table(classes: dict[str, dict]) -> None:
    print(f"{'class':22s} {'clips':>5s} {'bounds':>6s} {'cut<=1fr':>8s} {'false':>5s} {'inside':>6s} {'mp4 len':>7s} "
          f"{'wav len':>7s} {'longer':>6s} {'dn found':>8s} {'dn true':>7s} {'4/4 ceil':>8s} {'beat':>5s} {'struck':>6s} "
          f"{'step':>5s} {'chg/min':>7s} {'short/min':>9s} {'hit>short':>9s} {'hit>4/4':>7s}")

    def pct(x):
        return "-" if x is None else f"{100 * x:.0f}%"

    for kind, s in classes.items():
        print(f"{kind:22s} {s['clips']:5d} {s['boundaries']:6d} {pct(s['cut_within_1_frame']):>8s} {s['false_cuts']:5d} "
              f"{s['false_inside_shots']:6d} {pct(s['mp4_audio_within_1_frame']):>7s} {pct(s['wav_within_1_frame']):>7s} "
              f"{s['longer_than_video']:6d} {pct(s['found_on_downbeat']):>8s} {pct(s['true_on_downbeat']):>7s} {pct(s['reachable']):>8s} "
              f"{pct(s['true_on_beat']):>5s} {pct(s['struck']):>6s} {100 * s['max_tempo_step']:4.1f}% {s['changes_per_minute']:7.1f} "
              f"{s['short_bars_per_minute']:9.1f} {pct(s['struck_after_short']):>9s} {pct(s['struck_after_4_4']):>7s}")


def main() -> None:
    from diffbgm.pipeline import GenerationOptions, ScoringPipeline
    from diffbgm.video.analysis import analyze_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=GenerationOptions().steps, help="diffusion steps per window")
    parser.add_argument("--long", action="store_true", help="also score a 10-minute clip")
    parser.add_argument("--variant", type=int, default=0, help="another draw of the corpus (0: the default one)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--model", type=Path, default=None, help="weights (default: the shipped model)")
    args = parser.parse_args()
    clips, moods = [], []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pipeline = ScoringPipeline.from_checkpoint(args.model, cache_dir=folder / "cache")
        (folder / "out").mkdir()
        for kind, name, clip, suffix in corpus(args.long, args.variant):
            path = folder / f"{name}{suffix}"
            truth = write_clip(path, clip)
            start = time.perf_counter()
            result = pipeline.generate(path, GenerationOptions(steps=args.steps))
            files = result.save(folder / "out" / f"{name}.mp4")
            seconds = time.perf_counter() - start
            # The analysis generate used, from the cache (no second decode).
            analysis = analyze_video(path, pipeline.analysis_config, progress=False, cache_dir=pipeline.cache_dir,
                                     encoder=pipeline.image_encoder, device=pipeline.device)
            found = score(truth, analysis)
            lengths = output_lengths(files["video"], files["wav"], truth)
            row = dict(kind=kind, name=name, length_s=truth.length_s, frame_s=truth.frame_period_s, seconds=seconds,
                       cut_errors_frames=[min(e, 1e9) for e in found["errors"]], false=found["false"],
                       false_inside=found["false_inside"], **lengths, **length_scores(lengths, truth),
                       **plan_sync(truth, result.plan, config_for_mood(analysis, pipeline.embedder, None),
                                   [n.start for i in result.midi.instruments for n in i.notes]))
            clips.append(row)
            print(f"{name:10s} {truth.length_s:7.2f} s in {seconds:6.1f} s  tempo {row['median_bpm']:5.1f}  "
                  f"downbeats {np.mean(row['true_on_downbeat'] or [1]):4.0%}  step {row['max_tempo_step']:5.1%}  "
                  f"audio {lengths['mp4_audio_s'] - truth.length_s:+.3f} s", flush=True)
            if truth.length_s >= MOOD_MIN_S:
                tempi = [float(np.median(plan_with_mood(analysis, pipeline.embedder, m).bar_bpm)) for m in MOODS]
                moods.append(dict(name=name, length_s=truth.length_s, **dict(zip(MOODS, tempi))))
    by_kind: dict[str, list[dict]] = defaultdict(list)
    for row in clips:
        by_kind[row["kind"]].append(row)
    classes = {kind: summarise(rows) for kind, rows in by_kind.items()}
    classes["overall"] = summarise(clips)
    print(f"\n{len(clips)} clips, --steps {args.steps}; on a downbeat/beat: within {TOLERANCE_S * 1000:.0f} ms")
    print_table(classes)
    per_class = min(s["true_on_downbeat"] for k, s in classes.items() if k != "overall" and s["true_on_downbeat"] is not None)
    print(f"targets: downbeats overall >= {TARGETS['downbeats overall']:.0%} (got {classes['overall']['true_on_downbeat']:.1%}), "
          f"per class >= {TARGETS['downbeats per class']:.0%} (worst {per_class:.1%}), "
          f"max tempo step <= {TARGETS['max tempo step']:.0%} (got {classes['overall']['max_tempo_step']:.1%})")
    print(f"FFmpeg's AAC decoder plays up to {classes['overall']['decoded_over_ms']:.0f} ms past the video's end "
          "(the padding of the last AAC frame, which the stored timestamps exclude)")
    gaps = [m[MOODS[1]] - m[MOODS[0]] for m in moods]
    print(f"\nmood, median bar tempo per clip of >= {MOOD_MIN_S:.0f} s ({len(moods)} clips): {MOODS[0]!r} vs {MOODS[1]!r}")
    for m, gap in zip(moods, gaps):
        print(f"  {m['name']:10s} {m['length_s']:6.1f} s  {m[MOODS[0]]:6.1f}  {m[MOODS[1]]:6.1f}  +{gap:.1f} BPM")
    every = bool(gaps) and min(gaps) >= MOOD_GAP_BPM
    print(f"second >= {MOOD_GAP_BPM:.0f} BPM above the first on every clip: {'yes' if every else 'no'}"
          + (f" (smallest gap {min(gaps):.1f})" if gaps else ""))
    if args.json:
        args.json.write_text(json.dumps(dict(steps=args.steps, long=args.long, variant=args.variant, classes=classes,
                                             clips=clips, moods=moods, mood_gap_met=every), indent=1, default=_plain))


def _plain(value):
    return value.item() if isinstance(value, np.generic) else str(value)


if __name__ == "__main__":
    main()
