"""A Diff-BGM training run from a :class:`RunConfig`: data set, denoiser, diffusion loss, trainer."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from diffbgm.diffusion.schedule import GaussianDiffusion
from diffbgm.models.checkpoint import config_metadata, read_metadata, text_embedder, warm_start
from diffbgm.models.denoiser import DiffBGMDenoiser
from diffbgm.training.checkpoint_state import check_resumable
from diffbgm.training.config import ConfigError, RunConfig, check_data
from diffbgm.training.datasets import Bgm909Windows, Pop909Windows, split_batch
from diffbgm.training.distributed import setup_distributed, teardown_distributed
from diffbgm.training.trainer import Trainer, TrainResult

logger = logging.getLogger(__name__)


def _window_store(root: str, split: str):
    from diffbgm.music.dataset import WindowStore

    try:
        store = WindowStore(Path(root), split)
    except FileNotFoundError as error:
        raise ConfigError(str(error)) from None
    if len(store) == 0:
        raise ConfigError(f"no {split} windows in {root}")
    return store


def build_dataset(config: RunConfig, device: str = "cpu"):
    """The configured training data set, its feature widths checked against the model config."""
    data = config.data
    if data.dataset == "pop909":
        from diffbgm.conditions.dynamic import DYNAMIC_DIM

        try:
            embedder = text_embedder(config.model, device)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        dataset = Pop909Windows(_window_store(data.root, data.split), embedder, pitch_shift=data.pitch_shift,
                                 short_bar_prob=data.short_bar_prob, alike_prob=data.alike_prob)
        widths = {"dynamic_dim": DYNAMIC_DIM, "semantic_dim": dataset.text_embeddings.shape[1]}
    else:
        dataset = Bgm909Windows(_window_store(data.music_root, data.split), data.root, data.pitch_shift)
        if len(dataset) == 0:
            raise ConfigError(f"no BGM909 song in {data.root} matches a {data.split} window of {data.music_root}")
        widths = {"dynamic_dim": dataset.dynamic_dim, "semantic_dim": dataset.semantic_dim}
    for name, width in widths.items():
        configured = getattr(config.model.conditions, name)
        if configured != width:
            raise ConfigError(f"model.conditions.{name} is {configured} but the {data.dataset} data gives {width}")
    return dataset


def checkpoint_metadata(config: RunConfig) -> dict[str, str]:
    """What every weights file carries: the model config (for loading) and the whole run config."""
    return config_metadata(config.model, run_config=config.to_json())


def train(
    config: RunConfig,
    out_dir: str | Path,
    device: str = "cpu",
    resume: bool = False,
    max_steps: int | None = None,
    progress: bool = True,
    init_from: str | Path | None = None,
) -> TrainResult:
    """Train the denoiser of ``config`` into ``out_dir`` (see :class:`Trainer` for the files).

    ``init_from`` starts a new run from another checkpoint's weights (:func:`warm_start`), e.g. to
    fine-tune, or to grow a trained model by inputs it did not have.
    """
    if init_from is not None:
        if resume:
            raise ConfigError("--resume continues a run and --init-from starts one: give only one")
        read_metadata(init_from)
    if resume:
        check_resumable(out_dir)
    check_data(config)
    torch_device = setup_distributed(device)
    try:
        torch.manual_seed(config.training.seed)
        dataset = build_dataset(config)
        model = DiffBGMDenoiser(config.model)
        if init_from is not None:
            grown = warm_start(model, init_from)
            logger.info("weights from %s (%d tensors grew new input channels)", init_from, grown)
        model = model.to(torch_device)
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
