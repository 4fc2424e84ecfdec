"""A Diff-BGM training run from a :class:`RunConfig`: data set, denoiser, diffusion loss, trainer."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from diffbgm.diffusion.schedule import GaussianDiffusion
from diffbgm.models.denoiser import DiffBGMDenoiser
from diffbgm.training.config import ConfigError, RunConfig, check_data
from diffbgm.training.datasets import Pop909Windows, split_batch
from diffbgm.training.distributed import setup_distributed, teardown_distributed
from diffbgm.training.trainer import Trainer, TrainResult

logger = logging.getLogger(__name__)


def build_dataset(config: RunConfig, device: str = "cpu"):
    """The configured training data set."""
    from diffbgm.conditions.text import SentenceEmbedder

    data = config.data
    embedder = SentenceEmbedder(data.text_model or None, device=device)
    if data.dataset == "pop909":
        from diffbgm.music.dataset import WindowStore

        try:
            store = WindowStore(Path(data.root), data.split)
        except FileNotFoundError as error:
            raise ConfigError(str(error)) from None
        if len(store) == 0:
            raise ConfigError(f"no {data.split} windows in {data.root}")
        dataset = Pop909Windows(store, embedder, pitch_shift=data.pitch_shift)
    else:
        raise ConfigError("data.dataset bgm909 is not wired in yet; train on pop909")
    if config.model.conditions.semantic_dim != dataset.text_embeddings.shape[1]:
        raise ConfigError(
            f"model.conditions.semantic_dim is {config.model.conditions.semantic_dim} but the text "
            f"model gives {dataset.text_embeddings.shape[1]}-d embeddings"
        )
    return dataset


def checkpoint_metadata(config: RunConfig) -> dict[str, str]:
    """What every weights file carries: the model config (for loading) and the whole run config."""
    return {
        "format": "diffbgm",
        "model_config": json.dumps(config.model.to_dict(), sort_keys=True),
        "run_config": config.to_json(),
    }


def train(
    config: RunConfig,
    out_dir: str | Path,
    device: str = "cpu",
    resume: bool = False,
    max_steps: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train the denoiser of ``config`` into ``out_dir`` (see :class:`Trainer` for the files)."""
    check_data(config)
    torch_device = setup_distributed(device)
    try:
        torch.manual_seed(config.training.seed)
        dataset = build_dataset(config)
        model = DiffBGMDenoiser(config.model).to(torch_device)
        diffusion = GaussianDiffusion(config.model.diffusion).to(torch_device)

        def loss_fn(network, batch):
            x, conditions = split_batch(batch, torch_device)
            return diffusion.loss(network, model.crop(x), conditions)

        selector = config.model.conditions.selector
        trainer = Trainer(
            model,
            loss_fn,
            dataset,
            config.training,
            out_dir,
            torch_device,
            metadata=checkpoint_metadata(config),
            find_unused_parameters=selector in ("semantic_only", "dynamic_only"),
            progress=progress,
        )
        logger.info("model: %d parameters; %d training windows", model.num_parameters(), len(dataset))
        return trainer.train(resume=resume, max_steps=max_steps)
    finally:
        teardown_distributed()
