"""A printable summary of a model config or a checkpoint (``diffbgm info``), computed without
allocating the model (it is built on the meta device), so any size of config is summarised at once."""

from __future__ import annotations

from pathlib import Path

import torch

from diffbgm.models.checkpoint import STEP_KEY, check_fits, read_config, read_metadata, weights_group
from diffbgm.models.config import ModelConfig
from diffbgm.models.denoiser import DiffBGMDenoiser


def summarize(config: ModelConfig) -> str:
    """Parameter counts (total and per part) and the main sizes of ``config``'s model."""
    with torch.device("meta"):
        model = DiffBGMDenoiser(config)
    unet, conditions = config.unet, config.conditions

    def count(module) -> int:
        return sum(p.numel() for p in module.parameters())

    total = count(model)
    lines = [
        f"parameters: {total:,}",
        f"  unet: {count(model.unet):,}",
        f"  condition streams: {count(model.streams):,}",
        f"fp16 size: {total * 2 / 1e6:.1f} MB",
        f"input: {unet.in_channels} x 128 steps x {unet.n_pitches} pitches (MIDI {unet.pitch_low}..{unet.pitch_high - 1})",
        f"channels: {unet.base_channels} x {list(unet.channel_mult)}, {unet.num_res_blocks} res block(s) per level",
        f"attention levels: {list(unet.attention_levels)} + middle, {unet.num_heads} heads, depth {unet.transformer_depth}",
        f"conditions: dynamic {conditions.dynamic_dim}-d + semantic {conditions.semantic_dim}-d -> width "
        f"{conditions.width}, selector {conditions.selector} (tau {conditions.tau}), segment mask "
        f"{conditions.segment_mask}, text model {conditions.text_model}",
        f"diffusion: {config.diffusion.num_train_timesteps} steps, {config.diffusion.beta_schedule} betas "
        f"{config.diffusion.beta_start}..{config.diffusion.beta_end}, condition dropout "
        f"{config.diffusion.condition_dropout}",
    ]
    return "\n".join(lines)


def describe_checkpoint(path: str | Path) -> str:
    """Summary of a ``.safetensors`` weights file, its config first checked against its tensor shapes."""
    metadata = read_metadata(path)
    config = read_config(path, metadata)
    check_fits(path, config, weights_group(path))
    header = f"checkpoint: {path}" + (f" (step {metadata[STEP_KEY]})" if STEP_KEY in metadata else "")
    return header + "\n" + summarize(config)
