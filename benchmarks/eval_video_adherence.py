"""Does the music follow the picture inside every shot? Figures on synthetic videos (printed, never asserted).

The benchmark writes its own small videos (160x90, 24 fps) from photographs of ``skimage.data`` and
scores each with a model (the shipped one unless ``--model``) and ``--seeds`` seeds, then prints the
mean and the spread (min..max over seeds) of:

- the busy / static notes-per-bar ratio inside one shot: a still photograph for half the video, then
  fast motion over the same photograph, no cut (both orders); target >= 2;
- per-bar Spearman rho of the picture's motion vs notes per bar (a motion ramp, still -> fast) and of
  its brightness vs mean sounding pitch (a brightness ramp, dark -> bright), no cuts; targets >= 0.6.
  The picture's curve is the known construction (the pan's speed, each frame's mean luma); rows
  marked "analysis" use the analysis' own curve instead, and "condition" the per-beat condition the
  model was given (so that a low figure can be traced to the analysis, the conditions or the model);
- the same-seed onset overlap (Jaccard of onset cells) of a flat grey video and a busy one of the same
  length; target <= 0.3;
- the novelty at cut bar lines ranked among all bar lines (:func:`cut_novelty_rank`, 0.5 = no
  difference) on alike shots (slow pans over photographs of equal mean brightness) with hard cuts;
  target >= 0.7;
- onsets per second and mean velocity near flashes (a still photograph flashing white for three frames
  at a few moments) vs elsewhere;
- ``--mood "sad, slow, melancholic"`` vs ``--mood "happy, energetic, bright"`` on slow pans over
  photographs: share of minor keys (Krumhansl-Kessler key of the notes), notes per bar, mean velocity
  and mean pitch.

Every video is scored with its known cuts (none but in the cut video) in place of shot detection, so
that each figure measures the music, not the cut detector. Bars map to time by the plan's downbeats;
the last ``fade_bars`` bars (the ending's fade) are left out of the velocity figures.

Usage:
    python benchmarks/eval_video_adherence.py [--model PATH] [--seeds 3] [--quick] [--device cpu]
        [--json PATH]

``--quick``: one seed and one photograph for the moods (a few minutes on two CPU cores).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "video"))
from synth import write_video  # noqa: E402

from diffbgm.evaluation.video_adherence import (  # noqa: E402
    bar_means,
    bars_within,
    cut_bar_lines,
    cut_novelty_rank,
    mean_pitch_per_bar,
    mean_ratio,
    near_events,
    notes_per_bar,
    onset_jaccard,
    rank_correlation,
    time_near_events,
)

SIZE = (160, 90)  # width, height
FPS = 24.0
SCENE_SIZE = (400, 225)  # the photograph a camera pans over
SLOW_PX_S = 15.0
FAST_PX_S = 200.0
FLASH_FRAMES = 3
EVENT_WINDOW_S = 0.5
MOODS = {"sad": "sad, slow, melancholic", "happy": "happy, energetic, bright"}
MOOD_PHOTOS = ("astronaut", "coffee", "chelsea")
CUT_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "camera", "immunohistochemistry")
TARGETS = {"ratio": ">= 2.0", "rho": ">= 0.6", "overlap": "<= 0.3", "cut": ">= 0.7"}


@dataclass
class Clip:
    """A synthetic video and what it shows, by construction, at each frame."""

    path: Path
    cuts_s: tuple[float, ...]
    times_s: np.ndarray
    motion: np.ndarray  # the pan's speed, pixels per second
    brightness: np.ndarray  # mean luma of the frame, 0..1
    events_s: tuple[float, ...] = ()
    switch_s: float = 0.0  # where a half-static, half-busy video changes


# --- the videos --------------------------------------------------------------------------------------


def photograph(name: str, mean_luma: float | None = None) -> np.ndarray:
    """A ``skimage.data`` photograph as float RGB ``SCENE_SIZE``, optionally scaled to a mean luma (0..1)."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    image = cv2.resize(image[..., :3], SCENE_SIZE, interpolation=cv2.INTER_AREA).astype(np.float64)
    if mean_luma is not None:
        image = np.clip(image * (255.0 * mean_luma / _luma(image).mean()), 0, 255)
    return image


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


def _pingpong(distance: np.ndarray, length: float) -> np.ndarray:
    phase = np.mod(distance, 2 * length)
    return length - np.abs(phase - length)


def pan(scene: np.ndarray, speed_px_s: np.ndarray, gain: np.ndarray | None = None) -> list[np.ndarray]:
    """Frames of a camera moving over ``scene`` at ``speed_px_s`` (per frame) along a bouncing diagonal path."""
    width, height = SIZE
    room_x, room_y = scene.shape[1] - width, scene.shape[0] - height
    travelled = np.cumsum(speed_px_s / FPS) - speed_px_s[0] / FPS
    xs, ys = _pingpong(travelled, room_x), _pingpong(0.6 * travelled + room_y / 2, room_y)
    frames = []
    for i, (x, y) in enumerate(zip(np.rint(xs).astype(int), np.rint(ys).astype(int))):
        frame = scene[y : y + height, x : x + width]
        if gain is not None:
            frame = frame * gain[i]
        frames.append(np.clip(frame, 0, 255).round().astype(np.uint8))
    return frames


def write_clip(path: Path, frames: list[np.ndarray], speed_px_s: np.ndarray, cuts_s=(), **extra) -> Clip:
    write_video(path, frames, fps=FPS)
    return Clip(path, tuple(cuts_s), np.arange(len(frames)) / FPS, np.asarray(speed_px_s, float),
                np.array([_luma(f.astype(float)).mean() / 255.0 for f in frames]), **extra)


def half_static_clip(folder: Path, seconds: float, static_first: bool) -> Clip:
    """One shot of ``camera``: still for half of it, then fast motion (or the other way round)."""
    n = int(seconds * FPS)
    still = np.arange(n) < n // 2 if static_first else np.arange(n) >= n // 2
    speed = np.where(still, 0.0, FAST_PX_S)
    name = "still_then_busy" if static_first else "busy_then_still"
    return write_clip(folder / f"{name}.mp4", pan(photograph("camera"), speed), speed, switch_s=(n // 2) / FPS)


def motion_ramp_clip(folder: Path, seconds: float) -> Clip:
    n = int(seconds * FPS)
    speed = FAST_PX_S * np.arange(n) / (n - 1)
    return write_clip(folder / "motion_ramp.mp4", pan(photograph("camera"), speed), speed)


def brightness_ramp_clip(folder: Path, seconds: float) -> Clip:
    n = int(seconds * FPS)
    speed = np.zeros(n)
    gain = np.linspace(0.12, 1.0, n)
    return write_clip(folder / "brightness_ramp.mp4", pan(photograph("coffee"), speed, gain), speed)


def grey_clip(folder: Path, seconds: float) -> Clip:
    n = int(seconds * FPS)
    frames = [np.full((SIZE[1], SIZE[0], 3), 128, np.uint8)] * n
    return write_clip(folder / "grey.mp4", frames, np.zeros(n))


def busy_clip(folder: Path, seconds: float) -> Clip:
    speed = np.full(int(seconds * FPS), FAST_PX_S)
    return write_clip(folder / "busy.mp4", pan(photograph("camera"), speed), speed)


def cuts_clip(folder: Path, shot_s: tuple[float, ...]) -> Clip:
    """Alike shots: slow pans over different photographs of one mean luma, joined by hard cuts."""
    frames, speeds = [], []
    for index, seconds in enumerate(shot_s):
        speed = np.full(int(seconds * FPS), SLOW_PX_S)
        frames += pan(photograph(CUT_PHOTOS[index % len(CUT_PHOTOS)], mean_luma=0.45), speed)
        speeds.append(speed)
    cuts = tuple(float(t) for t in np.cumsum([int(s * FPS) for s in shot_s])[:-1] / FPS)
    return write_clip(folder / "cuts.mp4", frames, np.concatenate(speeds), cuts_s=cuts)


def flashes_clip(folder: Path, seconds: float, events_s: tuple[float, ...]) -> Clip:
    """A slow pan over ``chelsea`` that flashes white and jolts for three frames at ``events_s``."""
    n = int(seconds * FPS)
    speed = np.full(n, SLOW_PX_S)
    frames = pan(photograph("chelsea"), speed)
    for event in events_s:
        for i in range(int(event * FPS), min(n, int(event * FPS) + FLASH_FRAMES)):
            jolted = np.roll(frames[i].astype(float), 12, axis=1)
            frames[i] = np.clip(0.35 * jolted + 0.65 * 255, 0, 255).astype(np.uint8)
    return write_clip(folder / "flashes.mp4", frames, speed, events_s=events_s)


def mood_clip(folder: Path, photo: str, seconds: float) -> Clip:
    speed = np.full(int(seconds * FPS), SLOW_PX_S)
    return write_clip(folder / f"pan_{photo}.mp4", pan(photograph(photo), speed), speed)


# --- the measures of one result ----------------------------------------------------------------------


def per_bar_rhos(clip: Clip, result, analysis, curve: str, music: Callable, condition: str) -> dict[str, float]:
    """rho of ``music`` per bar against the clip's known curve, the analysis' curve and the condition."""
    from diffbgm.conditions.dynamic import DYNAMIC_FEATURES
    from diffbgm.music.grid import BEATS_PER_BAR

    downbeats = result.plan.downbeats_s
    generated = music(result.score.roll)
    dynamic = result.score.dynamic[:, DYNAMIC_FEATURES.index(condition)]
    bars = len(dynamic) // BEATS_PER_BAR
    requested = dynamic[: bars * BEATS_PER_BAR].reshape(bars, BEATS_PER_BAR).mean(axis=1)
    return {
        "construction": rank_correlation(bar_means(clip.times_s, getattr(clip, curve), downbeats), generated),
        "analysis": rank_correlation(bar_means(analysis.frame_times, analysis.features[curve], downbeats), generated),
        "condition": rank_correlation(requested, generated),
    }


def notes_of(result) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start times (s), velocities and pitches of the MIDI's notes before the ending's fade."""
    fade_start = result.plan.downbeats_s[max(0, result.plan.n_bars - result.options.fade_bars)]
    notes = [n for track in result.midi.instruments for n in track.notes if n.start < fade_start]
    return (np.array([n.start for n in notes]), np.array([n.velocity for n in notes], float),
            np.array([n.pitch for n in notes], float))


def event_figures(clip: Clip, result) -> dict[str, float]:
    starts, velocities, _ = notes_of(result)
    end = result.plan.downbeats_s[max(0, result.plan.n_bars - result.options.fade_bars)]
    near = near_events(starts, np.asarray(clip.events_s), EVENT_WINDOW_S)
    near_s = time_near_events(np.asarray(clip.events_s), EVENT_WINDOW_S, 0.0, end)
    rate_near, rate_elsewhere = near.sum() / near_s, (~near).sum() / (end - near_s)
    return {
        "onset_rate_ratio": float(rate_near / rate_elsewhere) if rate_elsewhere else float("nan"),
        "velocity_near": float(velocities[near].mean()) if near.any() else float("nan"),
        "velocity_elsewhere": float(velocities[~near].mean()) if (~near).any() else float("nan"),
    }


def mood_figures(result) -> dict[str, float]:
    from diffbgm.music.key import estimate_key
    from diffbgm.music.pianoroll import beat_notes_from_pianoroll

    _, velocities, pitches = notes_of(result)
    _, mode = estimate_key(beat_notes_from_pianoroll(result.score.roll))
    return {"minor": float(mode == "minor"), "notes_per_bar": float(notes_per_bar(result.score.roll).mean()),
            "velocity": float(velocities.mean()) if len(velocities) else float("nan"),
            "pitch": float(pitches.mean()) if len(pitches) else float("nan")}


# --- the run ---------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    kept = [v for v in values if not np.isnan(v)]
    if not kept:
        return "—"
    return f"{np.mean(kept):.3f} ({min(kept):.3f}..{max(kept):.3f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="weights (default: the shipped model)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1")
    parser.add_argument("--quick", action="store_true", help="one seed, one photograph for the moods")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, default=None, help="write the per-seed figures here")
    args = parser.parse_args()
    from diffbgm.pipeline import GenerationError, GenerationOptions, ScoringPipeline
    from diffbgm.video.analysis import analyze_video

    seeds = list(range(1 if args.quick else args.seeds))
    mood_photos = MOOD_PHOTOS[:1] if args.quick else MOOD_PHOTOS
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as temp:
        folder, cache = Path(temp), Path(temp) / "analyses"
        try:
            pipeline = ScoringPipeline.from_checkpoint(args.model, device=args.device, cache_dir=cache)
        except GenerationError as error:
            sys.exit(f"error: {error}")
        clips = {
            "still_then_busy": half_static_clip(folder, 20.0, static_first=True),
            "busy_then_still": half_static_clip(folder, 20.0, static_first=False),
            "motion_ramp": motion_ramp_clip(folder, 24.0),
            "brightness_ramp": brightness_ramp_clip(folder, 24.0),
            "grey": grey_clip(folder, 20.0),
            "busy": busy_clip(folder, 20.0),
            "cuts": cuts_clip(folder, (5.0, 6.0, 5.0, 6.0, 5.0, 6.0)),
            "flashes": flashes_clip(folder, 20.0, (3.1, 7.4, 11.2, 15.6)),
            **{f"pan_{photo}": mood_clip(folder, photo, 16.0) for photo in mood_photos},
        }

        def score(name: str, seed: int, mood: str | None = None):
            clip = clips[name]
            return pipeline.generate(clip.path, GenerationOptions(seed=seed, mood=mood), cuts=clip.cuts_s)

        def analysis(name: str):
            clip = clips[name]  # from the cache the generation filled
            return analyze_video(clip.path, pipeline.analysis_config, progress=False, cache_dir=cache,
                                 cuts=clip.cuts_s, encoder=pipeline.image_encoder)

        figures: dict[str, list[float]] = {}

        def add(key: str, value: float) -> None:
            figures.setdefault(key, []).append(float(value))

        for seed in seeds:
            for name in ("still_then_busy", "busy_then_still"):
                clip, result = clips[name], score(name, seed)
                downbeats = result.plan.downbeats_s
                busy_first = name == "busy_then_still"
                first = bars_within(downbeats, 0.0, clip.switch_s)
                second = bars_within(downbeats, clip.switch_s, downbeats[-1])
                busy, still = (first, second) if busy_first else (second, first)
                add(f"ratio {name}", mean_ratio(notes_per_bar(result.score.roll), busy, still))
            for name, curve, music, condition in (("motion_ramp", "motion", notes_per_bar, "density"),
                                                  ("brightness_ramp", "brightness", mean_pitch_per_bar, "register")):
                rhos = per_bar_rhos(clips[name], score(name, seed), analysis(name), curve, music, condition)
                for source, rho in rhos.items():
                    add(f"rho {name} {source}", rho)
            add("overlap grey vs busy", onset_jaccard(score("grey", seed).score.roll, score("busy", seed).score.roll))
            result = score("cuts", seed)
            lines = cut_bar_lines(result.plan.downbeats_s, np.asarray(clips["cuts"].cuts_s))
            add("cut novelty rank", cut_novelty_rank(result.score.roll, lines))
            add("cut lines on bar lines", len(lines))
            for key, value in event_figures(clips["flashes"], score("flashes", seed)).items():
                add(f"flashes {key}", value)
            for mood, words in MOODS.items():
                per_photo = [mood_figures(score(f"pan_{photo}", seed, words)) for photo in mood_photos]
                for key in per_photo[0]:
                    add(f"mood {mood} {key}", float(np.mean([p[key] for p in per_photo])))
            print(f"seed {seed} done, {time.perf_counter() - started:.0f} s", flush=True)

    rows = [
        ("busy/static notes-per-bar ratio, still -> busy", "ratio still_then_busy", TARGETS["ratio"]),
        ("busy/static notes-per-bar ratio, busy -> still", "ratio busy_then_still", TARGETS["ratio"]),
        ("motion ramp: rho(motion, notes/bar), construction", "rho motion_ramp construction", TARGETS["rho"]),
        ("motion ramp: rho(motion, notes/bar), analysis curve", "rho motion_ramp analysis", ""),
        ("motion ramp: rho(density condition, notes/bar)", "rho motion_ramp condition", ""),
        ("brightness ramp: rho(brightness, mean pitch), construction", "rho brightness_ramp construction",
         TARGETS["rho"]),
        ("brightness ramp: rho(brightness, mean pitch), analysis curve", "rho brightness_ramp analysis", ""),
        ("brightness ramp: rho(register condition, mean pitch)", "rho brightness_ramp condition", ""),
        ("same-seed onset Jaccard, grey vs busy", "overlap grey vs busy", TARGETS["overlap"]),
        ("cut novelty rank among bar lines (0.5 = none)", "cut novelty rank", TARGETS["cut"]),
        ("cuts that fell on inner bar lines (of 5)", "cut lines on bar lines", ""),
        (f"flashes: onsets/s within {EVENT_WINDOW_S} s / elsewhere", "flashes onset_rate_ratio", ""),
        ("flashes: mean velocity near", "flashes velocity_near", ""),
        ("flashes: mean velocity elsewhere", "flashes velocity_elsewhere", ""),
    ]
    for mood in MOODS:
        rows += [(f"{mood}: share of minor keys", f"mood {mood} minor", ""),
                 (f"{mood}: notes per bar", f"mood {mood} notes_per_bar", ""),
                 (f"{mood}: mean velocity", f"mood {mood} velocity", ""),
                 (f"{mood}: mean pitch", f"mood {mood} pitch", "")]
    print(f"\n{len(seeds)} seed(s); moods over {', '.join(mood_photos)}; model {args.model or 'shipped'}")
    print("| figure | mean (min..max over seeds) | target |\n|---|---:|---|")
    for label, key, target in rows:
        print(f"| {label} | {spread(figures[key])} | {target} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    if args.json is not None:
        finite = {key: [v if np.isfinite(v) else None for v in values] for key, values in figures.items()}
        args.json.write_text(json.dumps({"seeds": seeds, "figures": finite}, indent=2) + "\n")


if __name__ == "__main__":
    main()
