"""A seconds-fast training run on synthetic windows, shared by the trainer tests and
``benchmarks/kill_train.py``.

Run as a script it is the process those kill: ``python tests/synthetic_training.py OUT --max-steps N``
trains the tiny config into ``OUT`` (resuming the run there, if any); ``--die-at-write K`` makes it
end like a SIGKILL (``os._exit``, no clean-up) during its K-th checkpoint write, the file half written
with ``--truncate``, whole but not yet renamed into place without.
"""

from __future__ import annotations

import argparse
import hashlib
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from diffbgm.diffusion import GaussianDiffusion
from diffbgm.models import DiffBGMDenoiser
from diffbgm.training.checkpoint_state import holds_run, optimizer_to_tensors
from diffbgm.training.config import RunConfig, load_config
from diffbgm.training.datasets import split_batch
from diffbgm.training.run import checkpoint_metadata
from diffbgm.training.trainer import Trainer
from repo_paths import CONFIGS

KILLED_EXIT_CODE = 137


class SyntheticWindows(torch.utils.data.Dataset):
    """Random sparse piano rolls with random conditions; the item depends only on its key."""

    def __len__(self) -> int:
        return 10

    def __getitem__(self, key):
        index, seed = key
        generator = torch.Generator().manual_seed(index * 1000 + int(np.random.default_rng(seed).integers(3)))
        roll = (torch.rand(2, 128, 128, generator=generator) > 0.95).float() * 2 - 1
        return {
            "x": roll,
            "dynamic": torch.rand(32, 4, generator=generator),
            "semantic": torch.randn(32, 384, generator=generator),
            "segments": torch.arange(32).div(16, rounding_mode="floor"),
        }


def tiny_run_config(checkpoint_every: int | None = None) -> RunConfig:
    """``configs/tiny.yaml``, optionally checkpointing every ``checkpoint_every`` steps."""
    config = load_config(CONFIGS / "tiny.yaml")
    if checkpoint_every is None:
        return config
    return replace(config, training=replace(config.training, checkpoint_every=checkpoint_every))


def make_trainer(out_dir: Path, config: RunConfig | None = None, trainer_class: type = Trainer) -> Trainer:
    """A trainer of the tiny denoiser on :class:`SyntheticWindows`, seeded as a real run is."""
    config = config or tiny_run_config()
    torch.manual_seed(config.training.seed)
    model = DiffBGMDenoiser(config.model)
    diffusion = GaussianDiffusion(config.model.diffusion)

    def loss_fn(network, batch):
        x, conditions = split_batch(batch, "cpu")
        return diffusion.loss(network, model.crop(x), conditions)

    return trainer_class(model, loss_fn, SyntheticWindows(), config.training, out_dir, "cpu",
                         metadata=checkpoint_metadata(config), progress=False)


def digest(tensors: dict[str, torch.Tensor]) -> str:
    """A hash of named tensors (names, dtypes, shapes and bytes)."""
    hasher = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        hasher.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return hasher.hexdigest()


def trainer_digests(trainer: Trainer) -> dict[str, str]:
    """Hashes of the weights, EMA and optimizer state a trainer holds (as a checkpoint stores them)."""
    return {
        "model": digest(trainer.model.state_dict()),
        "ema": digest(trainer.ema.state_dict()),
        "optimizer": digest(optimizer_to_tensors(trainer.optimizer.state_dict())[0]),
    }


class RecordingTrainer(Trainer):
    """A trainer that records :func:`trainer_digests` at every checkpoint instead of writing it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.digests: dict[int, dict[str, str]] = {}

    def save_checkpoint(self) -> None:
        self.digests[self.step] = trainer_digests(self)


def die_at_write(write: int, truncate: bool) -> None:
    """Make this process end as if killed during its ``write``-th checkpoint write."""
    import diffbgm.models.checkpoint as checkpoint

    real_save, calls = checkpoint.save_file, []

    def save_then_die(tensors, filename, metadata=None):
        real_save(tensors, filename, metadata=metadata)
        calls.append(filename)
        if len(calls) == write:
            if truncate:
                os.truncate(filename, os.path.getsize(filename) // 2)
            os._exit(KILLED_EXIT_CODE)

    checkpoint.save_file = save_then_die


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-steps", type=int, required=True)
    parser.add_argument("--checkpoint-every", type=int, default=1)
    parser.add_argument("--die-at-write", type=int, default=0)
    parser.add_argument("--truncate", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.die_at_write:
        die_at_write(args.die_at_write, args.truncate)
    trainer = make_trainer(args.out, tiny_run_config(args.checkpoint_every))
    trainer.train(resume=holds_run(args.out), max_steps=args.max_steps)


if __name__ == "__main__":
    main()
