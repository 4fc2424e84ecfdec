"""The Diff-BGM denoiser: condition streams + feature selector + segment-aware UNet.

The network only predicts noise; the noise schedule, the loss and the samplers live in
:mod:`diffbgm.diffusion`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diffbgm.conditions import ConditionBatch
from diffbgm.models.streams import ConditionStreams
from diffbgm.models.attention import SegmentMask
from diffbgm.models.config import ModelConfig
from diffbgm.models.unet import UNet


class DiffBGMDenoiser(nn.Module):
    """``forward(x, timesteps, conditions, null_mask=None) -> epsilon``.

    ``x`` is the noisy piano roll restricted to the configured pitch columns, ``(B, 2, 128, P)``
    (see :meth:`crop` / :meth:`uncrop`); ``null_mask`` (bool ``(B,)``) swaps the chosen windows'
    conditions for the learned null tokens (unconditional prediction for classifier-free guidance),
    and their key and groove (``conditions.scale`` and ``conditions.groove``, read with ``unet.scale_input``
    and ``unet.groove_input``) and their dynamic input channels (``unet.dynamic_input``) for none.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.streams = ConditionStreams(config.conditions)
        self.unet = UNet(config.unet, config.conditions.width)

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        conditions: ConditionBatch,
        null_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if timesteps.ndim == 0:
            timesteps = timesteps.expand(x.shape[0])
        context, key_beats = self.streams(conditions, timesteps, null_mask)
        variant = self.config.conditions.segment_mask
        segment_mask = None
        if variant == "segments":
            segment_mask = SegmentMask(conditions.segments, key_beats)
        elif variant == "halves":
            segment_mask = SegmentMask.halves(x.shape[0], conditions.segments.shape[1], key_beats)
        scale = None
        if self.config.unet.scale_input:
            scale = self.crop(conditions.scales())
            if null_mask is not None:
                scale = scale.masked_fill(null_mask[:, None], 0.0)
        groove = None
        if self.config.unet.groove_input:
            groove = conditions.grooves()
            if null_mask is not None:
                groove = groove.masked_fill(null_mask[:, None], 0.0)
        dynamic = None
        if self.config.unet.dynamic_input:
            dynamic = conditions.dynamic
            if null_mask is not None:
                dynamic = dynamic.masked_fill(null_mask[:, None, None], 0.0)
        return self.unet(x, timesteps, context.to(x.dtype), segment_mask, scale, groove, dynamic,
                         conditions.metric_steps)

    def crop(self, roll: torch.Tensor) -> torch.Tensor:
        """Full 128-pitch tensor ``(..., 128)`` -> the pitch columns the network models."""
        return roll[..., self.config.unet.pitch_low : self.config.unet.pitch_high]

    def uncrop(self, roll: torch.Tensor, fill: float) -> torch.Tensor:
        """Inverse of :meth:`crop`, padding the other pitches with ``fill``."""
        unet = self.config.unet
        return F.pad(roll, (unet.pitch_low, 128 - unet.pitch_high), value=fill)

    @property
    def sample_shape(self) -> tuple[int, int, int]:
        """Shape of one window as the network sees it: ``(channels, steps, pitches)``."""
        return (self.config.unet.in_channels, 128, self.config.unet.n_pitches)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
