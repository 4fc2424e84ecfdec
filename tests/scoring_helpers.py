"""Shared by the generation tests: a tiny random denoiser saved as a checkpoint, and short synthetic videos."""

from __future__ import annotations

import itertools
from pathlib import Path

import torch
from video.synth import hue_colour, moving_square, solid, write_video

from diffbgm.models import ConditionConfig, DiffBGMDenoiser, ModelConfig, UNetConfig, save_weights

FPS = 24.0
SIZE = (96, 64)
# Shots of 2, 2 and 2.5 s: cuts at 2.0 and 4.0 s.
SHOT_FRAMES = (48, 48, 60)


def tiny_checkpoint(path: Path, scale_input: bool = False, groove_input: bool = False) -> Path:
    """A randomly initialised denoiser (a few thousand parameters) saved with the project's checkpoint code.

    ``scale_input`` / ``groove_input``: the model reads a key / a groove (its output layer is then
    randomised too, so they matter).
    """
    torch.manual_seed(0)
    config = ModelConfig(
        unet=UNetConfig(base_channels=8, channel_mult=(1, 2, 2), num_res_blocks=1, attention_levels=(),
                        num_heads=2, norm_groups=4, scale_input=scale_input, groove_input=groove_input),
        conditions=ConditionConfig(width=16),
    )
    model = DiffBGMDenoiser(config)
    if scale_input or groove_input:
        with torch.no_grad():
            model.unet.conv_out.weight.normal_(0.0, 0.1)
    save_weights(path, config, {"model": model.state_dict()})
    return path


def three_shot_video(path: Path) -> Path:
    """6.5 s, 96x64: a red still, a moving square, a blue still, with a sine-tone soundtrack."""
    frames = itertools.chain(
        solid(hue_colour(0), SHOT_FRAMES[0], SIZE),
        moving_square(SHOT_FRAMES[1], SIZE, speed_px=3.0),
        solid(hue_colour(230), SHOT_FRAMES[2], SIZE),
    )
    return write_video(path, frames, fps=FPS, audio_s=sum(SHOT_FRAMES) / FPS)


def two_shot_video(path: Path, seconds: float = 20.0) -> Path:
    """``seconds`` long, 96x64, no sound: a green still, then a moving square from half-way."""
    half = int(seconds * FPS / 2)
    frames = itertools.chain(solid(hue_colour(120), half, SIZE), moving_square(int(seconds * FPS) - half, SIZE))
    return write_video(path, frames, fps=FPS)


def one_second_video(path: Path, seconds: float = 1.0) -> Path:
    """A short video (1 s by default: shorter than one bar at any allowed tempo)."""
    return write_video(path, solid((200, 40, 40), round(seconds * FPS), SIZE), fps=FPS)
