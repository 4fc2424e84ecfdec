"""A training checkpoint: weights, EMA and the trainer's state in one file, committed by one rename.

The optimizer's and the random generators' tensors are stored as the ``optimizer.`` and ``rng.``
tensor groups of the weights file (:mod:`diffbgm.models.checkpoint`), everything else (step, elapsed
time, the optimizer's parameter groups and scalars, the numpy generator's position) as JSON under the
``trainer_state`` metadata key. Nothing is pickled, so a forged run folder cannot run code, and since
the weights and the state of a step live in one file replaced atomically, a run killed at any moment
resumes from its last complete checkpoint and can never pair weights and state of different steps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diffbgm.atomic import remove_part_files
from diffbgm.models.checkpoint import (
    EMA_GROUP,
    MODEL_GROUP,
    STEP_KEY,
    WEIGHTS_FILE,
    CheckpointError,
    read_group,
    read_metadata,
    write_tensors,
)

OPTIMIZER_GROUP = "optimizer"
RNG_GROUP = "rng"
STATE_KEY = "trainer_state"
STATE_VERSION = 1
# Written by diffbgm before this format: a pickle, never loaded (unpickling can run any code).
LEGACY_STATE_FILE = "checkpoint.state.pt"


class ResumeError(RuntimeError):
    """A run that cannot be resumed (no checkpoint, a damaged one, or one from another configuration)."""


@dataclass
class TrainingCheckpoint:
    """Everything a trainer restores."""

    step: int
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    elapsed: float
    metadata: dict[str, str]


def checkpoint_path(out_dir: str | Path) -> Path:
    """The checkpoint file of a run folder (it also loads as plain weights)."""
    return Path(out_dir) / WEIGHTS_FILE


def holds_run(out_dir: str | Path) -> bool:
    """Whether ``out_dir`` holds a run that a new one would overwrite."""
    return checkpoint_path(out_dir).is_file() or (Path(out_dir) / LEGACY_STATE_FILE).is_file()


def remove_stale_files(out_dir: str | Path) -> int:
    """Delete the partial checkpoint files a killed run left in ``out_dir``; return how many."""
    return remove_part_files(checkpoint_path(out_dir))


def optimizer_to_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer ``state_dict`` as tensors (``<param>.<key>``) and JSON-able rest."""
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            name = f"{index}.{key}"
            if isinstance(value, torch.Tensor):
                tensors[name] = value
            else:
                scalars[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def optimizer_from_tensors(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`optimizer_to_tensors`."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *rest["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": rest["param_groups"]}


def rng_to_tensors(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The generator states of :func:`capture_rng` as tensors and JSON-able rest."""
    kind, keys, position, has_gauss, cached = state["numpy"]
    tensors = {"torch": state["torch"], "numpy": torch.from_numpy(np.asarray(keys, np.uint32).view(np.int32).copy())}
    if "cuda" in state:
        tensors["cuda"] = state["cuda"]
    return tensors, {"numpy": [kind, int(position), int(has_gauss), float(cached)]}


def rng_from_tensors(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`rng_to_tensors`."""
    kind, position, has_gauss, cached = rest["numpy"]
    keys = tensors["numpy"].numpy().view(np.uint32)
    state = {"torch": tensors["torch"], "numpy": (kind, keys, position, has_gauss, cached)}
    if "cuda" in tensors:
        state["cuda"] = tensors["cuda"]
    return state


def capture_rng(device: torch.device) -> dict[str, Any]:
    """The global torch, numpy (and CUDA) generator states."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def restore_rng(state: dict[str, Any], device: torch.device) -> None:
    """Set the generators :func:`capture_rng` read."""
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def write_checkpoint(out_dir: str | Path, checkpoint: TrainingCheckpoint) -> Path:
    """Write ``checkpoint`` into ``out_dir`` whole or not at all; return its path."""
    optimizer_tensors, optimizer_rest = optimizer_to_tensors(checkpoint.optimizer)
    rng_tensors, rng_rest = rng_to_tensors(checkpoint.rng)
    state = {
        "version": STATE_VERSION,
        "step": checkpoint.step,
        "elapsed": checkpoint.elapsed,
        "optimizer": optimizer_rest,
        "rng": rng_rest,
        "tensors": {OPTIMIZER_GROUP: sorted(optimizer_tensors), RNG_GROUP: sorted(rng_tensors)},
    }
    metadata = {**checkpoint.metadata, STEP_KEY: str(checkpoint.step), STATE_KEY: json.dumps(state)}
    groups = {MODEL_GROUP: checkpoint.model, EMA_GROUP: checkpoint.ema,
              OPTIMIZER_GROUP: optimizer_tensors, RNG_GROUP: rng_tensors}
    path = checkpoint_path(out_dir)
    write_tensors(path, groups, metadata)
    return path


def check_resumable(out_dir: str | Path) -> dict[str, str]:
    """The metadata of a run folder's checkpoint from its header alone; :class:`ResumeError` (one line)
    when there is none, it is damaged, or it is a pickled state of an older diffbgm."""
    path = checkpoint_path(out_dir)
    legacy = Path(out_dir) / LEGACY_STATE_FILE
    if legacy.is_file():
        raise ResumeError(f"{legacy} is a pickled trainer state of an older diffbgm, which is never loaded "
                          f"(it could run code); start a new run with --init-from {path}")
    if not path.is_file():
        raise ResumeError(f"nothing to resume in {out_dir} (no {WEIGHTS_FILE})")
    try:
        metadata = read_metadata(path)
    except CheckpointError as error:
        raise ResumeError(f"cannot resume: {error}") from None
    if STATE_KEY not in metadata:
        raise ResumeError(f"{path} holds weights but no trainer state (an exported file?); "
                          f"start a new run with --init-from")
    return metadata


def read_checkpoint(out_dir: str | Path) -> TrainingCheckpoint:
    """The checkpoint of a run folder, checked to be complete; one-line :class:`ResumeError` otherwise."""
    metadata = check_resumable(out_dir)
    path = checkpoint_path(out_dir)
    try:
        state = json.loads(metadata.pop(STATE_KEY))
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            raise ResumeError(f"{path}: unknown trainer state version")
        if str(state["step"]) != metadata.get(STEP_KEY):
            raise ResumeError(f"{path}: trainer state of step {state['step']} in weights of step "
                              f"{metadata.get(STEP_KEY)}")
        groups = {group: read_group(path, group) for group in (MODEL_GROUP, EMA_GROUP, OPTIMIZER_GROUP, RNG_GROUP)}
        for group, names in state["tensors"].items():
            if sorted(groups[group]) != names:
                raise ResumeError(f"{path}: the {group} tensors are not those its trainer state lists")
        return TrainingCheckpoint(
            step=int(state["step"]),
            model=groups[MODEL_GROUP],
            ema=groups[EMA_GROUP],
            optimizer=optimizer_from_tensors(groups[OPTIMIZER_GROUP], state["optimizer"]),
            rng=rng_from_tensors(groups[RNG_GROUP], state["rng"]),
            elapsed=float(state["elapsed"]),
            metadata={k: v for k, v in metadata.items() if k != STEP_KEY},
        )
    except CheckpointError as error:
        raise ResumeError(f"cannot resume: {error}") from None
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ResumeError(f"{path}: damaged trainer state ({type(error).__name__}: {error})") from None
