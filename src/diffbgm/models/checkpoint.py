"""Model weights on disk: one safetensors file with the resolved config in its metadata.

Tensor names are ``model.<param>`` (the trained weights) and optionally ``ema.<param>`` (their
exponential moving average, preferred for sampling). Metadata ``model_config`` holds the JSON model
config, so a file alone rebuilds the network (nanoGPT style).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from diffbgm.atomic import atomic_output
from diffbgm.models.config import ConfigError, ModelConfig
from diffbgm.models.denoiser import DiffBGMDenoiser

MODEL_PREFIX = "model."
EMA_PREFIX = "ema."


class CheckpointError(ValueError):
    """A weights file that cannot be used (missing, not a diffbgm checkpoint, mismatching)."""


def save_weights(
    path: str | Path,
    model_config: ModelConfig,
    tensors: dict[str, dict[str, torch.Tensor]],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``{prefix: state_dict}`` (prefixes ``model``/``ema``) atomically to ``path``."""
    path = Path(path)
    flat = {}
    for prefix, state in tensors.items():
        for name, tensor in state.items():
            flat[f"{prefix}.{name}"] = tensor.detach().to("cpu").contiguous()
    meta = {"format": "diffbgm", "model_config": json.dumps(model_config.to_dict())}
    meta.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temp:
        save_file(flat, str(temp), metadata=meta)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The safetensors metadata of a diffbgm weights file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # safetensors raises several private error types
        raise CheckpointError(f"not a safetensors file: {path} ({error})") from None
    if metadata.get("format") != "diffbgm" or "model_config" not in metadata:
        raise CheckpointError(f"not a diffbgm checkpoint (no model_config metadata): {path}")
    return metadata


def read_state(path: str | Path, use_ema: bool = True) -> dict[str, torch.Tensor]:
    """The state dict stored in a weights file: its EMA weights when present and ``use_ema``, else the trained ones."""
    with safe_open(str(path), framework="pt") as handle:
        names = list(handle.keys())
        prefix = EMA_PREFIX if use_ema and any(n.startswith(EMA_PREFIX) for n in names) else MODEL_PREFIX
        return {n[len(prefix):]: handle.get_tensor(n) for n in names if n.startswith(prefix)}


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu", use_ema: bool = True
) -> tuple[DiffBGMDenoiser, ModelConfig]:
    """Rebuild the denoiser from a weights file, in eval mode and float32 on ``device``.

    The EMA weights are used when present and ``use_ema`` is true.
    """
    metadata = read_metadata(path)
    try:
        config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    except (ConfigError, json.JSONDecodeError) as error:
        raise CheckpointError(f"bad model config in {path}: {error}") from None
    model = DiffBGMDenoiser(config)
    state = {name: tensor.float() for name, tensor in read_state(path, use_ema).items()}
    load_state(model, state, path)
    return model.to(device).eval(), config


def load_state(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load ``state`` strictly, turning mismatches into a one-line :class:`CheckpointError`."""
    result = model.load_state_dict(state, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: weights do not match the config ({len(result.missing_keys)} missing, "
            f"{len(result.unexpected_keys)} unexpected)"
        )


def warm_start(model: nn.Module, path: str | Path) -> int:
    """Initialise ``model`` from another checkpoint's weights (EMA preferred); return how many grew.

    Tensors must match by name and shape, except that a weight may have gained input channels
    (dimension 1: e.g. a UNet that now also reads the metric position). The old weights fill the
    leading channels and the new ones start at zero, so the warm-started network computes exactly
    what the checkpoint computed and training only has to learn what the new inputs add.
    """
    read_metadata(path)
    source = {name: tensor.float() for name, tensor in read_state(path).items()}
    target = model.state_dict()
    if set(source) != set(target):
        raise CheckpointError(
            f"{path}: cannot warm-start from it ({len(set(target) - set(source))} tensors missing, "
            f"{len(set(source) - set(target))} unexpected)"
        )
    state, grown = {}, 0
    for name, tensor in target.items():
        old = source[name]
        if old.shape == tensor.shape:
            state[name] = old
        elif old.ndim == tensor.ndim >= 2 and old.shape[1] < tensor.shape[1] and (
            old.shape[:1] + old.shape[2:] == tensor.shape[:1] + tensor.shape[2:]
        ):
            widened = torch.zeros_like(tensor, dtype=old.dtype)
            widened[:, : old.shape[1]] = old
            state[name] = widened
            grown += 1
        else:
            raise CheckpointError(
                f"{path}: cannot warm-start {name}: shape {tuple(old.shape)} against {tuple(tensor.shape)}"
            )
    model.load_state_dict(state)
    return grown


def export_weights(checkpoint: str | Path, output: str | Path, half: bool = True) -> int:
    """Copy a checkpoint's EMA (else trained) weights alone, optionally as fp16; return the file size.

    The model config travels in the metadata, so the output loads with :func:`load_checkpoint`.
    """
    metadata = read_metadata(checkpoint)
    state = read_state(checkpoint)
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    extra = {k: v for k, v in metadata.items() if k in ("step", "run_config")}
    save_weights(output, config, {EMA_PREFIX.rstrip("."): state}, extra)
    return Path(output).stat().st_size
