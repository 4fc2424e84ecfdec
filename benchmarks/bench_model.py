"""Model speed on this machine: training step and forward time per config, sampling time per window.

Usage: python3 benchmarks/bench_model.py [--threads N] [--batch 16] [--ddpm-steps 3]

Prints, for configs/paper.yaml and configs/cpu.yaml: parameters, fp16 size, forward time for one
window and a training step (forward + backward + AdamW) on a batch. Then, for the cpu config, the
per-window sampling time of DPM-Solver++ 20 steps (timed in full) and of the paper's DDPM 1000
steps (time per step measured over --ddpm-steps steps and multiplied by 1000, said so in the output),
both with classifier-free guidance (2 network calls per step). Figures from a shared machine vary with
its load: compare ratios taken in one run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from diffbgm.conditions import ConditionBatch
from diffbgm.diffusion import GaussianDiffusion, guided_epsilon, make_scheduler, sample
from diffbgm.models import DiffBGMDenoiser
from diffbgm.training.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def conditions(batch: int, config) -> ConditionBatch:
    segments = torch.zeros(batch, 32, dtype=torch.long)
    segments[:, 16:] = 1
    return ConditionBatch(torch.rand(batch, 32, config.conditions.dynamic_dim),
                          torch.randn(batch, 32, config.conditions.semantic_dim), segments)


def best_of(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def bench_config(name: str, batch: int) -> tuple[DiffBGMDenoiser, float]:
    config = load_config(CONFIGS / f"{name}.yaml").model
    model = DiffBGMDenoiser(config)
    diffusion = GaussianDiffusion(config.diffusion)
    x1 = torch.randn(1, *model.sample_shape)
    c1 = conditions(1, config)
    with torch.no_grad():
        model.eval()
        model(x1, torch.tensor([500]), c1)
        forward = best_of(lambda: model(x1, torch.tensor([500]), c1), 3)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5)
    xb = torch.randn(batch, *model.sample_shape)
    cb = conditions(batch, config)

    def step() -> None:
        loss = diffusion.loss(model, xb, cb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step()
    train_step = best_of(step, 2)
    count = model.num_parameters()
    print(f"{name:>5}: {count:,} parameters ({count * 2 / 1e6:.1f} MB fp16), forward 1 window "
          f"{forward * 1000:.0f} ms, train step batch {batch} {train_step:.2f} s "
          f"({batch / train_step:.1f} windows/s)")
    return model.eval(), forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--ddpm-steps", type=int, default=3)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch threads: {torch.get_num_threads()}")
    _, paper_forward = bench_config("paper", args.batch)
    model, cpu_forward = bench_config("cpu", args.batch)
    print(f"paper / cpu forward time: {paper_forward / cpu_forward:.1f}x")

    c1 = conditions(1, model.config)
    started = time.perf_counter()
    sample(model, c1, sampler="dpmpp", steps=20, guidance_scale=3.0, generator=torch.Generator().manual_seed(0))
    dpmpp = time.perf_counter() - started
    scheduler = make_scheduler(model.config.diffusion, "ddpm")
    scheduler.set_timesteps(1000)
    x = torch.randn(1, *model.sample_shape)
    started = time.perf_counter()
    with torch.no_grad():
        for t in scheduler.timesteps[: args.ddpm_steps]:
            eps = guided_epsilon(model, x, t, c1, 3.0)
            x = scheduler.step(eps, t, x).prev_sample
    ddpm = (time.perf_counter() - started) / args.ddpm_steps * 1000
    print(f"sampling 1 window (cpu config, guidance 3): DPM-Solver++ 20 steps {dpmpp:.1f} s; "
          f"DDPM 1000 steps ~{ddpm:.0f} s (extrapolated from {args.ddpm_steps} steps); ratio {ddpm / dpmpp:.0f}x")


if __name__ == "__main__":
    main()
