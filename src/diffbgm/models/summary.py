"""A printable summary of a model built from a YAML config or a checkpoint (``diffbgm info``)."""

from __future__ import annotations

import json
from pathlib import Path

from diffbgm.models.checkpoint import read_metadata
from diffbgm.models.config import ModelConfig
from diffbgm.models.denoiser import DiffBGMDenoiser


def summarize(config: ModelConfig) -> str:
    """Parameter counts (total and per part) and the main sizes of ``config``'s model."""
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
        f"{conditions.segment_mask}",
        f"diffusion: {config.diffusion.num_train_timesteps} steps, {config.diffusion.beta_schedule} betas "
        f"{config.diffusion.beta_start}..{config.diffusion.beta_end}, condition dropout "
        f"{config.diffusion.condition_dropout}",
    ]
    return "\n".join(lines)


def describe_source(path: str | Path) -> str:
    """Summary of a ``.yaml`` run config or a ``.safetensors`` weights file."""
    path = Path(path)
    if path.suffix in (".yaml", ".yml"):
        from diffbgm.training.config import load_config

        return f"config: {path}\n" + summarize(load_config(path).model)
    metadata = read_metadata(path)
    config = ModelConfig.from_dict(json.loads(metadata["model_config"]))
    header = f"checkpoint: {path}" + (f" (step {metadata['step']})" if "step" in metadata else "")
    return header + "\n" + summarize(config)
