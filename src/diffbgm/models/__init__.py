"""The Diff-BGM denoiser (:mod:`.denoiser`), its UNet, configuration and checkpoints."""

from diffbgm.models.checkpoint import (
    CheckpointError,
    load_checkpoint,
    read_metadata,
    save_weights,
    text_embedder,
    warm_start,
)
from diffbgm.models.config import ConfigError, ConditionConfig, DiffusionConfig, ModelConfig, UNetConfig
from diffbgm.models.denoiser import DiffBGMDenoiser

__all__ = [
    "CheckpointError",
    "ConditionConfig",
    "ConfigError",
    "DiffBGMDenoiser",
    "DiffusionConfig",
    "ModelConfig",
    "UNetConfig",
    "load_checkpoint",
    "read_metadata",
    "save_weights",
    "text_embedder",
    "warm_start",
]
