"""Speed and memory of ``diffbgm generate`` on a synthetic video (figures printed, never asserted).

Prints the wall time of each pipeline stage and in total (target: <= 30 s for a 60 s video on a
laptop-class CPU), the peak resident memory (target: <= 2 GB), and the speed-up of our sampling over
the paper's configuration (paper UNet, 1000-step DDPM, no guidance), measured in the same run on one
window: a few DDPM steps of the paper model are timed and extrapolated to 1000.

Without ``--model`` the generation model is a randomly initialised one of ``configs/cpu.yaml`` (the
configuration of the model the package ships), which runs exactly as fast as trained weights.

Usage: ``python benchmarks/bench_generate.py [--seconds 60] [--model PATH] [--steps N] [--groove-guidance G]``
(sampling options default to ``diffbgm generate``'s).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "video"))
from synth import hue_colour, moving_square, solid, write_video  # noqa: E402

from diffbgm.diffusion.samplers import DEFAULT_GUIDANCE, DEFAULT_SAMPLER, SAMPLERS  # noqa: E402

SIZE = (320, 180)
FPS = 24.0


def synthesise(path: Path, seconds: float) -> Path:
    """Shots of 2.5 to 5.5 s alternating still colours and a moving square, with a soundtrack."""
    lengths = itertools.cycle((4.0, 2.5, 5.5, 3.0, 4.5, 3.5))
    shots, total, index = [], 0.0, 0
    while total < seconds - 1e-9:
        length = min(next(lengths), seconds - total)
        frames = int(round(length * FPS))
        shots.append(moving_square(frames, SIZE, speed_px=4.0) if index % 2 else
                     solid(hue_colour(47 * index % 360), frames, SIZE))
        total += length
        index += 1
    return write_video(path, itertools.chain(*shots), fps=FPS, audio_s=seconds)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--model", type=Path, default=None, help="weights file  [default: random cpu.yaml model]")
    parser.add_argument("--config", default="cpu", help="configs/<name>.yaml of the random model")
    parser.add_argument("--steps", type=int, default=None, help="sampling steps  [default: generate's]")
    parser.add_argument("--sampler", default=DEFAULT_SAMPLER, choices=list(SAMPLERS))
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--groove-guidance", type=float, default=None, help="[default: generate's]")
    parser.add_argument("--paper-steps", type=int, default=3, help="DDPM steps of the paper model actually timed")
    args = parser.parse_args()

    from diffbgm.conditions.from_video import window_spans
    from diffbgm.music.grid import BEATS_PER_BAR, WINDOW_BEATS
    from diffbgm.pipeline import GenerationOptions, ScoringPipeline

    with tempfile.TemporaryDirectory(prefix="bench-generate-") as folder:
        folder = Path(folder)
        video = synthesise(folder / f"bench_{int(args.seconds)}s.mp4", args.seconds)
        model = args.model or random_checkpoint(folder / "model.safetensors", args.config)
        start = time.perf_counter()
        pipeline = ScoringPipeline.from_checkpoint(model)
        load_s = time.perf_counter() - start
        chosen = {name: value for name, value in (("steps", args.steps), ("groove_guidance", args.groove_guidance))
                  if value is not None}
        options = GenerationOptions(sampler=args.sampler, guidance=args.guidance, **chosen)
        result = pipeline.generate(video, options)
        result.save(folder / "scored.mp4")
        total_s = time.perf_counter() - start
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        n_windows = len(window_spans(result.plan.n_beats, WINDOW_BEATS, BEATS_PER_BAR * options.overlap_bars))

        print(f"video: {args.seconds:.0f} s, {len(result.plan.cuts_s)} cuts, {result.plan.n_bars} bars, "
              f"{n_windows} windows; model {pipeline.model.num_parameters() / 1e6:.1f} M parameters; "
              f"{args.sampler} {options.steps} steps, guidance {args.guidance}, "
              f"groove guidance {options.groove_guidance}")
        print(f"{'stage':<12}{'seconds':>9}")
        print(f"{'load':<12}{load_s:>9.2f}")
        for stage, seconds in result.timings_s.items():
            print(f"{stage:<12}{seconds:>9.2f}")
        print(f"{'total':<12}{total_s:>9.2f}   (target <= 30 s)")
        print(f"peak memory: {peak_gb:.2f} GB   (target <= 2 GB)")
        print(f"cuts within a sixteenth of a downbeat: {100 * result.plan.aligned_fraction:.0f} %")

    ours_window = result.timings_s["diffusion"] / n_windows
    per_step, paper_window = paper_window_seconds(args.paper_steps)
    print(f"paper configuration (paper.yaml UNet, DDPM 1000 steps, no guidance): {per_step:.2f} s per step, "
          f"timed over {args.paper_steps} steps and extrapolated to 1000: {paper_window:.0f} s per window")
    print(f"ours: {ours_window:.2f} s per window -> speed-up x{paper_window / ours_window:.0f}")


if __name__ == "__main__":
    main()
