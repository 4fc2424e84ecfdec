"""The checkpoint format: one safetensors file, the resolved model config in its metadata.

This module alone spells the format. Tensors are grouped by a name prefix: ``model.<param>`` (the
trained weights), ``ema.<param>`` (their exponential moving average, preferred for sampling) and, in
a training checkpoint, the trainer's state (:mod:`diffbgm.training.checkpoint_state`: ``optimizer.``
and ``rng.`` groups, their non-tensor parts as JSON metadata). Metadata ``model_config`` holds the JSON
model config, so a file alone rebuilds the network (nanoGPT style); a file holds no pickled object.

Every size is checked against the file header before a tensor is allocated, so a forged or mismatching
file fails in one line instead of allocating the network its config asks for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from diffbgm.atomic import atomic_output
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.models.config import BUNDLED_TEXT_MODEL, ConfigError, ModelConfig
from diffbgm.models.denoiser import DiffBGMDenoiser

WEIGHTS_FILE = "checkpoint.safetensors"
MODEL_GROUP = "model"
EMA_GROUP = "ema"
FORMAT_KEY, FORMAT = "format", "diffbgm"
CONFIG_KEY = "model_config"
RUN_CONFIG_KEY = "run_config"
STEP_KEY = "step"
# Metadata a standalone export keeps from a training checkpoint.
EXPORTED_KEYS = (STEP_KEY, RUN_CONFIG_KEY)

T = TypeVar("T")


class CheckpointError(ValueError):
    """A weights file that cannot be used (missing, not a diffbgm checkpoint, truncated, mismatching)."""


def prefix(group: str) -> str:
    """The name prefix of a tensor group (``model`` -> ``model.``)."""
    return f"{group}."


def config_metadata(model_config: ModelConfig, run_config: str | None = None) -> dict[str, str]:
    """The metadata every weights file carries: the model config (for loading), the run config if any."""
    metadata = {FORMAT_KEY: FORMAT, CONFIG_KEY: json.dumps(model_config.to_dict(), sort_keys=True)}
    if run_config is not None:
        metadata[RUN_CONFIG_KEY] = run_config
    return metadata


def write_tensors(path: str | Path, groups: dict[str, dict[str, torch.Tensor]], metadata: dict[str, str]) -> None:
    """Write ``{group: {name: tensor}}`` with ``metadata`` to ``path`` whole or not at all."""
    path = Path(path)
    flat = {}
    for group, state in groups.items():
        for name, tensor in state.items():
            flat[prefix(group) + name] = tensor.detach().to("cpu").contiguous()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path, durable=True) as temp:
        save_file(flat, str(temp), metadata=metadata)


def save_weights(
    path: str | Path,
    model_config: ModelConfig,
    tensors: dict[str, dict[str, torch.Tensor]],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``{group: state_dict}`` (groups ``model``/``ema``) and the config atomically to ``path``."""
    write_tensors(path, tensors, {**config_metadata(model_config), **(metadata or {})})


def _read(path: str | Path, read: Callable[[Any], T]) -> T:
    """``read(handle)`` on the opened file, every failure of a missing or damaged file in one line."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            return read(handle)
    except CheckpointError:
        raise
    except Exception as error:  # safetensors raises several private error types
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"not a complete safetensors file: {path} ({first})") from None


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors metadata of a diffbgm weights file."""
    metadata = _read(path, lambda handle: handle.metadata() or {})
    if metadata.get(FORMAT_KEY) != FORMAT or CONFIG_KEY not in metadata:
        raise CheckpointError(f"not a diffbgm checkpoint (no {CONFIG_KEY} metadata): {path}")
    return metadata


def read_config(path: str | Path, metadata: dict[str, str] | None = None) -> ModelConfig:
    """The model config a weights file was written with (a missing key takes its default)."""
    metadata = read_metadata(path) if metadata is None else metadata
    try:
        return ModelConfig.from_dict(json.loads(metadata[CONFIG_KEY]))
    except (ConfigError, json.JSONDecodeError) as error:
        raise CheckpointError(f"bad model config in {path}: {error}") from None


def tensor_shapes(path: str | Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape, from the file header alone."""
    return _read(path, lambda handle: {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()})


def read_group(path: str | Path, group: str) -> dict[str, torch.Tensor]:
    """The tensors of one group, without its prefix (empty when the file has none)."""
    start = prefix(group)
    return _read(path, lambda handle: {
        name[len(start):]: handle.get_tensor(name) for name in handle.keys() if name.startswith(start)
    })


def weights_group(path: str | Path, use_ema: bool = True) -> str:
    """The group sampling reads: the EMA weights when present and ``use_ema``, else the trained ones."""
    if use_ema and any(name.startswith(prefix(EMA_GROUP)) for name in tensor_shapes(path)):
        return EMA_GROUP
    return MODEL_GROUP


def read_state(path: str | Path, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The state dict stored in a weights file (see :func:`weights_group`)."""
    return read_group(path, weights_group(path, use_ema))


def model_shapes(config: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of ``config``'s model, computed on the meta device (nothing allocated)."""
    with torch.device("meta"):
        model = DiffBGMDenoiser(config)
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def check_fits(path: str | Path, config: ModelConfig, group: str) -> None:
    """Refuse (one line) a file whose ``group`` tensors are not exactly those ``config`` builds."""
    start = prefix(group)
    stored = {name[len(start):]: shape for name, shape in tensor_shapes(path).items() if name.startswith(start)}
    expected = model_shapes(config)
    missing, unexpected = sorted(set(expected) - set(stored)), sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: weights do not match the config ({len(missing)} missing, {len(unexpected)} unexpected)"
        )
    for name, shape in expected.items():
        if stored[name] != shape:
            raise CheckpointError(f"{path}: weights do not match the config ({group}.{name}: "
                                  f"config {shape}, file {stored[name]})")


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", use_ema: bool = True
) -> tuple[DiffBGMDenoiser, ModelConfig]:
    """Rebuild the denoiser from a weights file, in eval mode and float32 on ``device``, its weights in
    channels-last layout: oneDNN's CPU convolutions then skip a reorder of every weight at every call
    (the numbers are the same up to float rounding).

    The EMA weights are used when present and ``use_ema`` is true. The config is checked against the
    tensor shapes in the file header before the model is built.
    """
    config = read_config(path)
    group = weights_group(path, use_ema)
    check_fits(path, config, group)
    model = DiffBGMDenoiser(config)
    state = {name: tensor.float() for name, tensor in read_group(path, group).items()}
    load_state(model, state, path)
    return model.to(device, memory_format=torch.channels_last).eval(), config


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load ``state`` strictly, turning mismatches into a one-line :class:`CheckpointError`."""
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: weights do not match the config ({len(result.missing_keys)} missing, "
            f"{len(result.unexpected_keys)} unexpected)"
        )


def text_embedder(config: ModelConfig, device: str = "cpu") -> SentenceEmbedder:
    """The sentence embedder ``config``'s model was trained with, its width checked against the model.

    Raises :class:`CheckpointError` when the config names a local model folder that is missing here, or
    a model whose embeddings are not ``conditions.semantic_dim`` wide.
    """
    name = config.conditions.text_model
    if name == BUNDLED_TEXT_MODEL:
        embedder = SentenceEmbedder(None, device=device)
    else:
        if not Path(name).is_dir():
            raise CheckpointError(f"the model was trained with the text model {name}, which is not a folder here")
        embedder = SentenceEmbedder(name, device=device)
    if embedder.dim != config.conditions.semantic_dim:
        raise CheckpointError(f"the text model {name} gives {embedder.dim}-d embeddings but the model reads "
                              f"{config.conditions.semantic_dim}-d ones")
    return embedder


def warm_start(model: nn.Module, path: str | Path) -> int:
    """Initialise ``model`` from another checkpoint's weights (EMA preferred); return how many grew.

    Tensors must match by name and shape, except that a weight may have gained input channels
    (dimension 1: e.g. a UNet that now also reads the metric position). The old weights fill the
    leading channels and the new ones start at zero, so the warm-started network computes exactly
    what the checkpoint computed and training only has to learn what the new inputs add.
    """
    read_metadata(path)
    target = model.state_dict()
    group = weights_group(path)
    stored = {name[len(prefix(group)):]: shape for name, shape in tensor_shapes(path).items()
              if name.startswith(prefix(group))}
    if set(stored) != set(target):
        raise CheckpointError(
            f"{path}: cannot warm-start from it ({len(set(target) - set(stored))} tensors missing, "
            f"{len(set(stored) - set(target))} unexpected)"
        )
    for name, tensor in target.items():
        old = stored[name]
        grows = len(old) == tensor.ndim >= 2 and old[1] < tensor.shape[1] and (
            old[:1] + old[2:] == tuple(tensor.shape[:1] + tensor.shape[2:])
        )
        if old != tuple(tensor.shape) and not grows:
            raise CheckpointError(
                f"{path}: cannot warm-start {name}: shape {old} against {tuple(tensor.shape)}"
            )
    source = {name: tensor.float() for name, tensor in read_group(path, group).items()}
    state, grown = {}, 0
    for name, tensor in target.items():
        old = source[name]
        if old.shape == tensor.shape:
            state[name] = old
        else:
            widened = torch.zeros_like(tensor, dtype=old.dtype)
            widened[:, : old.shape[1]] = old
            state[name] = widened
            grown += 1
    model.load_state_dict(state)
    return grown


def export_weights(checkpoint: str | Path, output: str | Path, half: bool = True) -> int:
    """Copy a checkpoint's EMA (else trained) weights alone, optionally as fp16; return the file size.

    The model config travels in the metadata, so the output loads with :func:`load_checkpoint`.
    Refuses an ``output`` that is ``checkpoint`` itself (also through a link).
    """
    if Path(output).exists() and Path(checkpoint).exists() and os.path.samefile(checkpoint, output):
        raise CheckpointError(f"the output {output} is the checkpoint itself; choose another output file")
    metadata = read_metadata(checkpoint)
    config = read_config(checkpoint, metadata)
    group = weights_group(checkpoint)
    check_fits(checkpoint, config, group)
    state = read_group(checkpoint, group)
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    extra = {k: v for k, v in metadata.items() if k in EXPORTED_KEYS}
    save_weights(output, config, {EMA_GROUP: state}, extra)
    return Path(output).stat().st_size
