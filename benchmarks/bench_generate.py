"""Speed and memory of ``diffbgm generate`` on a synthetic video (figures printed, never asserted).

Prints the wall time of each pipeline stage and in total (issue 19's target: <= 15 s for a 60-s 720p
video on two cores, median of 3 runs), the peak resident memory (target: <= 1 GB), and the speed-up
of our sampling over the paper's configuration (paper UNet, 1000-step DDPM, no guidance), measured in
the same run on one window: a few DDPM steps of the paper model are timed and extrapolated to 1000.
The video is a camera panning and zooming over scikit-image photographs, with cuts, fades and a
soundtrack (``benchmarks/camera_footage.py``). ``--repeats N`` scores it N times, each in a fresh
process (imports and model load included, as for ``diffbgm generate``), and prints every run and the
median of each stage.

Without ``--model`` the generation model is a randomly initialised one of ``configs/cpu.yaml`` (the
configuration of the model the package ships), which runs exactly as fast as trained weights.

Usage: ``python benchmarks/bench_generate.py [--seconds 60] [--size 1280x720] [--fps 30] [--repeats 3]
[--model PATH] [--steps N] [--groove-guidance G]``
(sampling options default to ``diffbgm generate``'s).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from camera_footage import write_camera_video  # noqa: E402

from diffbgm.diffusion.samplers import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, SAMPLERS  # noqa: E402


def model_config(name: str):
    """The ``model`` section of ``configs/<name>.yaml``."""
    from diffbgm.training.config import load_config

    return load_config(ROOT / "configs" / f"{name}.yaml").model


def random_checkpoint(path: Path, name: str) -> Path:
    from diffbgm.models import DiffBGMDenoiser, save_weights

    config = model_config(name)
    torch.manual_seed(0)
    save_weights(path, config, {"model": DiffBGMDenoiser(config).state_dict()})
    return path


def paper_window_seconds(timed_steps: int) -> tuple[float, float]:
    """(seconds per DDPM step, extrapolated seconds for 1000 steps) of the paper model on one window."""
    from diffbgm.conditions import ConditionBatch
    from diffbgm.diffusion import sample
    from diffbgm.models import DiffBGMDenoiser

    config = model_config("paper")
    model = DiffBGMDenoiser(config).eval()
    conditions = ConditionBatch(torch.rand(1, 32, 4), torch.rand(1, 32, 384), torch.zeros(1, 32, dtype=torch.long))
    sample(model, conditions, sampler="ddpm", steps=1, guidance_scale=1.0)  # warm-up
    start = time.perf_counter()
    # The paper samples with all 1000 DDPM steps and no classifier-free guidance (one forward per step).
    sample(model, conditions, sampler="ddpm", steps=timed_steps, guidance_scale=1.0)
    per_step = (time.perf_counter() - start) / timed_steps
    return per_step, per_step * config.diffusion.num_train_timesteps


def score_once(video: Path, model: Path, args: argparse.Namespace) -> dict:
    """Load the pipeline and score ``video`` once (in this process): stage seconds, facts, peak memory."""
    from diffbgm.conditions.from_video import window_spans
    from diffbgm.music.grid import BEATS_PER_BAR, WINDOW_BEATS
    from diffbgm.pipeline import GenerationOptions, ScoringPipeline

    start = time.perf_counter()
    pipeline = ScoringPipeline.from_checkpoint(model)
    load_s = time.perf_counter() - start
    chosen = {name: value for name, value in (("steps", args.steps), ("groove_guidance", args.groove_guidance))
              if value is not None}
    options = GenerationOptions(sampler=args.sampler, guidance=args.guidance, **chosen)
    with tempfile.TemporaryDirectory(prefix="bench-generate-out-") as out:
        result = pipeline.generate(video, options)
        result.save(Path(out) / "scored.mp4")
    total_s = time.perf_counter() - start
    n_windows = len(window_spans(result.plan.n_beats, WINDOW_BEATS, BEATS_PER_BAR * options.overlap_bars))
    return {
        "stages": {"load": round(load_s, 3), **result.timings_s, "total": round(total_s, 3)},
        "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
        "facts": f"{len(result.plan.cuts_s)} cuts, {result.plan.n_bars} bars, {n_windows} windows; model "
                 f"{pipeline.model.num_parameters() / 1e6:.1f} M parameters; {args.sampler} {options.steps} steps, "
                 f"guidance {args.guidance}, groove guidance {options.groove_guidance}",
        "windows": n_windows,
        "aligned": result.plan.aligned_fraction,
    }


def _fresh_run(video: Path, model: Path, argv: list[str]) -> dict:
    command = [sys.executable, __file__, *argv, "--score-once", str(video), "--model", str(model)]
    lines = subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip().splitlines()
    return json.loads(lines[-1])


def _stage_table(runs: list[dict]) -> None:
    stages = list(runs[0]["stages"])
    header = "".join(f"{'run ' + str(i + 1):>9}" for i in range(len(runs)))
    print(f"{'stage':<12}{header}{'median':>9}")
    for stage in stages:
        values = [run["stages"].get(stage, 0.0) for run in runs]
        cells = "".join(f"{v:>9.2f}" for v in values)
        print(f"{stage:<12}{cells}{statistics.median(values):>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--size", default="1280x720", help="WIDTHxHEIGHT of the synthesised video")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the synthesised video")
    parser.add_argument("--video", type=Path, default=None, help="score this video instead of a synthesised one")
    parser.add_argument("--repeats", type=int, default=1, help="runs, each in a fresh process (median printed)")
    parser.add_argument("--model", type=Path, default=None, help="weights file  [default: random cpu.yaml model]")
    parser.add_argument("--config", default="cpu", help="configs/<name>.yaml of the random model")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps  [default: generate's]")
    parser.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=list(SAMPLERS))
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--groove-guidance", type=float, default=None, help="[default: generate's]")
    parser.add_argument("--paper-steps", type=int, default=3, help="DDPM steps of the paper model actually timed "
                        "(0: skip the paper comparison)")
    parser.add_argument("--score-once", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.score_once:
        print(json.dumps(score_once(args.score_once, args.model, args)))
        return
    sampling = [f"--sampler={args.sampler}", f"--guidance={args.guidance}"]
    sampling += [f"--steps={args.steps}"] if args.steps is not None else []
    sampling += [f"--groove-guidance={args.groove_guidance}"] if args.groove_guidance is not None else []

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as folder:
        folder = Path(folder)
        width, height = (int(v) for v in args.size.lower().split("x"))
        video = args.video or write_camera_video(folder / f"bench_{int(args.seconds)}s.mp4", args.seconds,
                                                 (width, height), args.fps, audio=True)
        model = args.model or random_checkpoint(folder / "model.safetensors", args.config)
        runs = [_fresh_run(video, model, sampling) for _ in range(args.repeats)]

    described = str(args.video) if args.video else f"{args.seconds:.0f} s, {width}x{height} at {args.fps:g} fps"
    print(f"video: {described}; {runs[0]['facts']}")
    _stage_table(runs)
    print(f"total: median {statistics.median(r['stages']['total'] for r in runs):.2f} s of {len(runs)} runs "
          f"(target <= 15 s for 60 s of 720p)")
    print(f"peak memory: {max(r['peak_gb'] for r in runs):.2f} GB   (target <= 1 GB)")
    print(f"cuts within a sixteenth of a downbeat: {100 * runs[0]['aligned']:.0f} %")
    if args.paper_steps <= 0:
        return
    ours_window = statistics.median(r["stages"]["diffusion"] for r in runs) / runs[0]["windows"]
    per_step, paper_window = paper_window_seconds(args.paper_steps)
    print(f"paper configuration (paper.yaml UNet, DDPM 1000 steps, no guidance): {per_step:.2f} s per step, "
          f"timed over {args.paper_steps} steps and extrapolated to 1000: {paper_window:.0f} s per window")
    print(f"ours: {ours_window:.2f} s per window -> speed-up x{paper_window / ours_window:.0f}")


if __name__ == "__main__":
    main()
