"""A small, model-agnostic trainer (nanoGPT style).

It knows nothing about the model beyond a loss callable ``loss_fn(model, batch) -> scalar``. It owns
AdamW with warm-up, gradient clipping, an EMA copy of the weights, bf16 autocast on CUDA, DDP when
launched by torchrun, a CSV log with a loss-curve PNG, and checkpoints that resume exactly: the
weights (+ EMA), optimizer state, RNG states and step in one file with the caller's metadata (the
resolved config; :mod:`diffbgm.training.checkpoint_state`). The data order is a pure function of
``(seed, step)``, so a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import copy
import csv
import logging
import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from diffbgm.atomic import atomic_output
from diffbgm.models.checkpoint import RUN_CONFIG_KEY
from diffbgm.training.checkpoint_state import (
    ResumeError,
    TrainingCheckpoint,
    capture_rng,
    checkpoint_path,
    read_checkpoint,
    remove_stale_files,
    restore_rng,
    write_checkpoint,
)
from diffbgm.training.config import TrainingConfig

logger = logging.getLogger(__name__)

LOG_FILE = "log.csv"
CURVE_FILE = "loss.png"
LOG_FIELDS = ("step", "loss", "lr", "grad_norm", "seconds", "examples_per_second")


class EpochSampler(Sampler):
    """Endless shuffled epochs, sharded across DDP ranks, starting at any position.

    Yields ``(index, (seed, epoch, position))``; the second element seeds per-example augmentation.
    The order depends only on ``seed`` and the position, which makes resuming exact.
    """

    def __init__(self, size: int, seed: int, start: int = 0, rank: int = 0, world_size: int = 1) -> None:
        if size < world_size:
            raise ValueError(f"data set of {size} examples is smaller than the {world_size} ranks")
        self.size, self.seed, self.start = size, seed, start
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[tuple[int, tuple[int, int, int]]]:
        per_rank = self.size // self.world_size
        epoch, position = divmod(self.start, per_rank)
        while True:
            order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed * 100_003 + epoch))
            shard = order[self.rank :: self.world_size][:per_rank].tolist()
            for position in range(position, per_rank):
                yield shard[position], (self.seed, epoch, position)
            epoch, position = epoch + 1, 0


@dataclass
class TrainResult:
    step: int
    loss: float
    stopped_early: bool


class Trainer:
    """Train ``model`` by minimising ``loss_fn(model, batch)`` over ``dataset``.

    Parameters
    ----------
    model:
        The module to optimise, already on ``device``.
    loss_fn:
        ``loss_fn(model, batch) -> scalar tensor``; ``model`` may be the DDP wrapper.
    dataset:
        Indexed by the keys :class:`EpochSampler` yields.
    config:
        Optimisation settings.
    out_dir:
        Where checkpoints and logs go.
    device:
        Chosen by the caller.
    metadata:
        String metadata written into every weights file (e.g. the resolved config). On resume,
        every entry except ``run_config`` must equal the checkpoint's.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Callable[[nn.Module, Any], torch.Tensor],
        dataset: Dataset,
        config: TrainingConfig,
        out_dir: str | Path,
        device: torch.device | str,
        metadata: dict[str, str] | None = None,
        collate_fn: Callable | None = None,
        find_unused_parameters: bool = False,
        progress: bool = True,
    ) -> None:
        self.config = config
        self.device = torch.device(device)
        self.out_dir = Path(out_dir)
        self.metadata = dict(metadata or {})
        self.loss_fn = loss_fn
        self.dataset = dataset
        self.collate_fn = collate_fn
        self.progress = progress
        self.distributed = dist.is_available() and dist.is_initialized()
        self.rank = dist.get_rank() if self.distributed else 0
        self.world_size = dist.get_world_size() if self.distributed else 1
        self.model = model
        self.ema = copy.deepcopy(model).eval().requires_grad_(False)
        self.wrapped: nn.Module = model
        if self.distributed:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.wrapped = nn.parallel.DistributedDataParallel(
                model, device_ids=device_ids, find_unused_parameters=find_unused_parameters
            )
        decay, no_decay = [], []
        for parameter in model.parameters():
            (decay if parameter.ndim >= 2 else no_decay).append(parameter)
        self.optimizer = torch.optim.AdamW(
            [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
            lr=config.learning_rate,
            betas=(config.adam_beta1, config.adam_beta2),
        )
        self.step = 0
        self._stop_requested = False

    # -- schedule / EMA -------------------------------------------------------------------------
    def learning_rate(self, step: int) -> float:
        """Linear warm-up, then constant or cosine decay to 10 % at ``max_steps``."""
        config = self.config
        if config.warmup_steps and step < config.warmup_steps:
            return config.learning_rate * (step + 1) / config.warmup_steps
        if config.lr_schedule == "cosine":
            progress = min(1.0, (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps))
            return config.learning_rate * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))
        return config.learning_rate

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Short runs: let the average follow the weights early on (as LDM's EMA warm-up).
        decay = min(self.config.ema_decay, (1 + self.step) / (10 + self.step))
        ema_params = list(self.ema.parameters())
        torch._foreach_lerp_(ema_params, [p.detach() for p in self.model.parameters()], 1.0 - decay)
        for ema_buffer, buffer in zip(self.ema.buffers(), self.model.buffers()):
            ema_buffer.copy_(buffer)

    # -- checkpoints ----------------------------------------------------------------------------
    @property
    def weights_path(self) -> Path:
        """The checkpoint file (weights, EMA and trainer state)."""
        return checkpoint_path(self.out_dir)

    def save_checkpoint(self) -> None:
        """Write weights (+EMA, metadata) and trainer state as one file, atomically (rank 0 only)."""
        if self.rank != 0:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        write_checkpoint(self.out_dir, TrainingCheckpoint(
            step=self.step,
            model=self.model.state_dict(),
            ema=self.ema.state_dict(),
            optimizer=self.optimizer.state_dict(),
            rng=capture_rng(self.device),
            elapsed=self._elapsed(),
            metadata=self.metadata,
        ))
        self._plot_curve()

    def load_checkpoint(self) -> None:
        """Restore everything :meth:`save_checkpoint` wrote."""
        checkpoint = read_checkpoint(self.out_dir)
        # Everything but the free-form run config (whose training section may change, e.g. max_steps)
        # must match: it describes the weights being resumed.
        fixed = [k for k in self.metadata if k != RUN_CONFIG_KEY]
        if any(checkpoint.metadata.get(k) != self.metadata[k] for k in fixed):
            raise ResumeError(f"{self.out_dir} holds a run with a different configuration; use another --out")
        self.model.load_state_dict(checkpoint.model)
        self.ema.load_state_dict(checkpoint.ema)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        restore_rng(checkpoint.rng, self.device)
        self.step = checkpoint.step
        self._elapsed_before = checkpoint.elapsed

    # -- logging --------------------------------------------------------------------------------
    def _elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._started

    def _open_log(self, resume: bool):
        path = self.out_dir / LOG_FILE
        rows = []
        if resume and path.is_file():
            with path.open() as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= self.step]
        handle = path.open("w", newline="")
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
        handle.flush()
        return handle, writer

    def _plot_curve(self) -> None:
        path = self.out_dir / LOG_FILE
        if not path.is_file():
            return
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = np.array([int(r["step"]) for r in rows])
        losses = np.array([float(r["loss"]) for r in rows])
        figure, axis = plt.subplots(figsize=(6, 3.5))
        axis.plot(steps, losses, lw=0.8, alpha=0.5, label="loss")
        if len(losses) >= 5:
            smooth = np.convolve(losses, np.ones(5) / 5, mode="valid")
            axis.plot(steps[4:], smooth, lw=1.5, label="mean of 5")
        axis.set_xlabel("step")
        axis.set_ylabel("epsilon MSE")
        axis.set_yscale("log")
        axis.legend()
        figure.tight_layout()
        with atomic_output(self.out_dir / CURVE_FILE) as temp:
            figure.savefig(temp, format="png", dpi=100)
        plt.close(figure)

    # -- loop -----------------------------------------------------------------------------------
    def _request_stop(self, signum, frame) -> None:
        logger.warning("signal %d: stopping after this step and saving a checkpoint", signum)
        self._stop_requested = True

    def train(self, resume: bool = False, max_steps: int | None = None) -> TrainResult:
        """Run until ``max_steps`` (default ``config.max_steps``), the time limit or a signal."""
        config = self.config
        max_steps = config.max_steps if max_steps is None else max_steps
        self._elapsed_before = 0.0
        self._started = time.perf_counter()
        if resume:
            self.load_checkpoint()
            self._started = time.perf_counter()
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            if remove_stale_files(self.out_dir):
                logger.warning("removed the partial checkpoint a killed run left in %s", self.out_dir)
        sampler = EpochSampler(
            len(self.dataset), config.seed, self.step * config.batch_size, self.rank, self.world_size
        )
        loader = DataLoader(
            self.dataset,
            batch_size=config.batch_size,
            sampler=sampler,
            num_workers=config.num_workers,
            collate_fn=self.collate_fn,
            # Its own generator: creating the iterator must not consume the global RNG, whose state
            # is part of what a checkpoint restores.
            generator=torch.Generator().manual_seed(config.seed),
        )
        log_handle, log_writer = self._open_log(resume) if self.rank == 0 else (None, None)
        previous = {}
        in_main_thread = True
        try:
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, self._request_stop)
        except ValueError:  # not the main thread (e.g. inside a test runner thread)
            in_main_thread = False
        bar = None
        if self.progress and self.rank == 0:
            from tqdm.auto import tqdm

            bar = tqdm(total=max_steps, initial=self.step, desc="training", dynamic_ncols=True)
        use_autocast = config.mixed_precision and self.device.type == "cuda"
        self.model.train()
        loss_value = float("nan")
        stopped_early = False
        last_saved = self.step
        window_loss, window_count, window_start = 0.0, 0, time.perf_counter()
        try:
            batches = iter(loader)
            while self.step < max_steps:
                batch = next(batches)
                lr = self.learning_rate(self.step)
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_autocast):
                    loss = self.loss_fn(self.wrapped, batch)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss became {loss.item()} at step {self.step}")
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.grad_clip)
                self.optimizer.step()
                self.step += 1
                self._update_ema()
                loss_value = loss.item()
                window_loss += loss_value
                window_count += 1
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}")
                if self.step % config.log_every == 0 and log_writer is not None:
                    seconds = time.perf_counter() - window_start
                    log_writer.writerow({
                        "step": self.step,
                        "loss": f"{window_loss / window_count:.6f}",
                        "lr": f"{lr:.3e}",
                        "grad_norm": f"{float(grad_norm):.4f}",
                        "seconds": f"{self._elapsed():.1f}",
                        "examples_per_second": f"{window_count * config.batch_size * self.world_size / seconds:.2f}",
                    })
                    log_handle.flush()
                    window_loss, window_count, window_start = 0.0, 0, time.perf_counter()
                out_of_time = config.max_minutes > 0 and self._elapsed() >= 60 * config.max_minutes
                if self.distributed:
                    flags = torch.tensor([float(self._stop_requested or out_of_time)], device=self.device)
                    dist.all_reduce(flags)
                    out_of_time = bool(flags.item())
                if self._stop_requested or out_of_time:
                    stopped_early = True
                    break
                if self.step % config.checkpoint_every == 0:
                    self.save_checkpoint()
                    last_saved = self.step
            if self.step != last_saved or not self.weights_path.exists():
                self.save_checkpoint()
        finally:
            if bar is not None:
                bar.close()
            if log_handle is not None:
                log_handle.close()
            if in_main_thread:
                for signum, handler in previous.items():
                    signal.signal(signum, handler)
        return TrainResult(step=self.step, loss=loss_value, stopped_early=stopped_early)
