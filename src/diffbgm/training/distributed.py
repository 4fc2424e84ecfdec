"""DDP set-up from the environment variables torchrun exports (RANK, WORLD_SIZE, LOCAL_RANK, ...)."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def setup_distributed(device: str) -> torch.device:
    """Join the process group when launched by torchrun; return this process's device.

    ``device`` is the caller's choice (``cpu``, ``cuda``); under torchrun a CUDA device gets the
    ``LOCAL_RANK`` index. The backend is NCCL on CUDA and gloo on CPU.
    """
    chosen = torch.device(device)
    if not launched_by_torchrun() or (dist.is_available() and dist.is_initialized()):
        return chosen
    if chosen.type == "cuda":
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(chosen)
    dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
    return chosen


def teardown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
