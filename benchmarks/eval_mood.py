"""Do mood words change the music? Sad against happy on real-photo videos (figures printed, never asserted).

    python3 benchmarks/eval_mood.py                      # 2 videos x 3 seeds x 2 moods, shipped model
    python3 benchmarks/eval_mood.py --seeds 1 --steps 4  # faster
    python3 benchmarks/eval_mood.py --json mood.json

Two 10-s clips (tests/footage.py: slow camera moves over ``skimage.data`` photographs, one hard cut
each) are scored by ``ScoringPipeline.generate`` with ``--mood "sad, slow, melancholic"`` and with
``--mood "happy, energetic, bright"`` (``--key auto``, the default: the key the model is told follows
the mood) for each seed. Per mood x video x seed:

- tempo: the plan's median bar tempo (BPM);
- told: the mode of the key the windows were held to (``music.mood.key_for_mood``);
- mode: the Krumhansl-Kessler mode (``music.key.estimate_key``) of the output's notes (after the
  ending's cadence), and of the model's own notes before it ("model mode");
- pitch: mean sounding MIDI pitch per bar; notes/bar: onsets per bar (the model's notes);
- velocity: mean MIDI velocity of the notes before the ending's fade;
- PCHE: pitch-class histogram entropy (bits, 4-beat windows); empty: share of bars without an onset;
- the conditions the model was given: mean density and register channel, mean intensity.

Then the happy-minus-sad differences per video and seed, their mean and range, and the share of runs
whose estimated mode follows the mood (sad minor, happy major).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from footage import Camera, Clip, Cut, Shot, write_clip  # noqa: E402

from diffbgm.conditions.dynamic import DYNAMIC_FEATURES  # noqa: E402
from diffbgm.evaluation.metrics import empty_bar_ratio, pitch_class_entropy  # noqa: E402
from diffbgm.evaluation.video_adherence import mean_pitch_per_bar, notes_per_bar  # noqa: E402
from diffbgm.music.key import estimate_key  # noqa: E402
from diffbgm.music.pianoroll import beat_notes_from_pianoroll  # noqa: E402

MOODS = {"sad": "sad, slow, melancholic", "happy": "happy, energetic, bright"}
FPS = 24.0
# (name, [(photograph, frames, camera start, camera end)]): 10 s each, one hard cut at a frame off the 1/8-s grid.
VIDEOS = {
    "astronaut+coffee": [("astronaut", 133, (0.45, 0.45, 0.7), (0.55, 0.5, 0.65)),
                         ("coffee", 107, (0.5, 0.5, 0.8), (0.45, 0.55, 0.75))],
    "chelsea+rocket": [("chelsea", 101, (0.5, 0.45, 0.75), (0.55, 0.5, 0.7)),
                       ("rocket", 139, (0.5, 0.6, 0.7), (0.5, 0.4, 0.7))],
}
COLUMNS = ("tempo", "pitch", "notes_per_bar", "velocity", "pche", "empty", "density", "register", "intensity")


def write_videos(folder: Path) -> dict[str, Path]:
    """The benchmark's clips, written into ``folder``."""
    paths = {}
    for name, shots in VIDEOS.items():
        clip = Clip(tuple(Shot(photo, frames, Camera(start, end)) for photo, frames, start, end in shots),
                    (Cut(),) * (len(shots) - 1), fps=FPS)
        paths[name] = folder / f"{name}.mp4"
        write_clip(paths[name], clip)
    return paths


def figures(result) -> dict:
    """The figures of one generated result (see the module docstring)."""
    model_roll = result.score.roll
    output = beat_notes_from_pianoroll(result.roll.to_array())
    model = beat_notes_from_pianoroll(model_roll)
    plan = result.plan
    fade_start = plan.downbeats_s[max(0, plan.n_bars - result.options.fade_bars)]
    velocities = [n.velocity for track in result.midi.instruments for n in track.notes if n.start < fade_start]
    dynamic = result.score.dynamic
    return dict(
        tempo=float(plan.tempo_bpm),
        told=result.manifest["ending"]["key_mode"],
        mode=estimate_key(output)[1],
        model_mode=estimate_key(model)[1],
        pitch=float(np.nanmean(mean_pitch_per_bar(model_roll))),
        notes_per_bar=float(notes_per_bar(model_roll).mean()),
        velocity=float(np.mean(velocities)) if velocities else float("nan"),
        pche=pitch_class_entropy(model),
        empty=empty_bar_ratio(model),
        density=float(dynamic[:, DYNAMIC_FEATURES.index("density")].mean()),
        register=float(dynamic[:, DYNAMIC_FEATURES.index("register")].mean()),
        intensity=float(result.score.intensity.mean()),
    )


def print_rows(rows: list[dict]) -> None:
    print(f"{'mood':6s} {'video':18s} {'seed':>4s} {'told':>5s} {'mode':>5s} {'model':>5s} "
          + " ".join(f"{c[:8]:>8s}" for c in COLUMNS))
    for r in rows:
        print(f"{r['mood']:6s} {r['video']:18s} {r['seed']:4d} {r['told']:>5s} {r['mode']:>5s} {r['model_mode']:>5s} "
              + " ".join(f"{r[c]:8.2f}" for c in COLUMNS))


def differences(rows: list[dict]) -> dict[str, list[float]]:
    """Happy minus sad for each video and seed, per column."""
    by = {(r["mood"], r["video"], r["seed"]): r for r in rows}
    pairs = [(by[("happy", v, s)], by[("sad", v, s)]) for (m, v, s) in by if m == "sad" and ("happy", v, s) in by]
    out = {c: [h[c] - s[c] for h, s in pairs] for c in COLUMNS}
    out["notes_per_bar_ratio"] = [h["notes_per_bar"] / s["notes_per_bar"] - 1.0 if s["notes_per_bar"] else float("nan")
                                  for h, s in pairs]
    return out


def main() -> None:
    from diffbgm.pipeline import GenerationOptions, ScoringPipeline

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--steps", type=int, default=GenerationOptions().steps, help="diffusion steps per window")
    parser.add_argument("--model", type=Path, default=None, help="weights (default: the shipped model)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        pipeline = ScoringPipeline.from_checkpoint(args.model, cache_dir=folder / "cache")
        for video, path in write_videos(folder).items():
            for seed in range(args.seeds):
                for mood, words in MOODS.items():
                    result = pipeline.generate(path, GenerationOptions(seed=seed, mood=words, steps=args.steps))
                    rows.append(dict(mood=mood, video=video, seed=seed, **figures(result)))
    print_rows(rows)
    diffs = differences(rows)
    print(f"\nhappy minus sad over {len(diffs['tempo'])} video x seed pairs: mean (min..max)")
    for column, values in diffs.items():
        print(f"  {column:20s} {np.mean(values):+8.2f} ({min(values):+.2f}..{max(values):+.2f})")
    expected = {"sad": "minor", "happy": "major"}
    for mood in MOODS:
        mine = [r for r in rows if r["mood"] == mood]
        def count(column: str) -> str:
            return f"{sum(r[column] == expected[mood] for r in mine)}/{len(mine)}"

        print(f"{mood}: estimated mode {expected[mood]} in {count('mode')} (model's notes before the cadence: "
              f"{count('model_mode')}); told {expected[mood]} in {count('told')}")
    print(f"{time.perf_counter() - started:.0f} s, --steps {args.steps}")
    if args.json:
        args.json.write_text(json.dumps(dict(steps=args.steps, rows=rows, differences=diffs), indent=1))


if __name__ == "__main__":
    main()
