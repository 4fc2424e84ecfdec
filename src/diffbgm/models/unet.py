"""The LDM-style UNet denoiser of Polyffusion / Diff-BGM over a (2, time, pitch) piano roll.

Residual blocks with timestep embedding, spatial transformers at the configured levels (and in the
middle block), skip connections between the down and up paths; optionally the metric position of
every time step as extra input channels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers.models.embeddings import get_timestep_embedding
from torch import nn

from diffbgm.conditions.dynamic import DYNAMIC_FEATURES, REGISTER_HIGH_PITCH, REGISTER_LOW_PITCH
from diffbgm.models.attention import SegmentMask, SpatialTransformer
from diffbgm.models.config import UNetConfig
from diffbgm.music.grid import STEPS_PER_BAR, STEPS_PER_BEAT

# Periods, in steps, of the metric-position channels: eighth-note parity, beat and bar.
METRIC_PERIODS: tuple[int, ...] = (2, STEPS_PER_BEAT, STEPS_PER_BAR)


def metric_position_channels(n_steps: int, device: torch.device | None = None,
                             metric_steps: torch.Tensor | None = None) -> torch.Tensor:
    """``(C, n_steps)``: where each step of a window that starts on a downbeat lies in the bar; with
    ``metric_steps`` (``(B, n_steps)``, each step's place in its bar), ``(B, C, n_steps)``.

    A cosine per period (for period 2 it alternates on-/off-eighth) and a sine for the longer periods
    (where it tells the two halves of the cycle apart): 5 channels for :data:`METRIC_PERIODS`. Without
    ``metric_steps`` the window starts on a downbeat of 4/4 and the step index is enough; a bar of 2 or
    3 beats (a metre change) reads as the first beats of a 4/4 bar, then the next bar line.
    """
    step = torch.arange(n_steps, device=device) if metric_steps is None else metric_steps
    channels = []
    for period in METRIC_PERIODS:
        # The phase is taken modulo the period first so that every bar gets bit-identical channels.
        phase = 2.0 * torch.pi * (step % period).float() / period
        channels.append(torch.cos(phase))
        if period > 2:
            channels.append(torch.sin(phase))
    return torch.stack(channels, dim=-2)


# Channels of metric_position_channels: a cosine per period, and a sine for periods above 2.
METRIC_CHANNELS = sum(1 if period == 2 else 2 for period in METRIC_PERIODS)
# Width, in semitones, of the register band (a Gaussian's sigma): about the spread of a hand.
REGISTER_BAND_SEMITONES = 6.0
_REGISTER = DYNAMIC_FEATURES.index("register")


def dynamic_channels(dynamic: torch.Tensor, n_steps: int, pitches: torch.Tensor) -> torch.Tensor:
    """Per-beat dynamic features ``(B, beats, 4)`` -> input channels ``(B, 4, n_steps, P)``.

    Every feature but register is tiled over its beat's steps and all ``pitches`` (the MIDI pitch of
    each column); register becomes a band over the pitches around the mean pitch it stands for, zero
    on beats with no register (silent music, or no condition).
    """
    batch, beats, width = dynamic.shape
    per_step = dynamic.repeat_interleave(n_steps // beats, dim=1).transpose(1, 2)  # (B, 4, steps)
    channels = per_step[..., None].expand(batch, width, n_steps, len(pitches)).clone()
    register = per_step[:, _REGISTER]
    centre = REGISTER_LOW_PITCH + register * (REGISTER_HIGH_PITCH - REGISTER_LOW_PITCH)
    band = torch.exp(-0.5 * ((pitches[None, None, :] - centre[..., None]) / REGISTER_BAND_SEMITONES) ** 2)
    channels[:, _REGISTER] = torch.where(register[..., None] > 0, band, torch.zeros_like(band))
    return channels


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, with the timestep embedding added in between."""

    def __init__(self, in_channels: int, out_channels: int, embed_dim: int, groups: int, dropout: float):
        super().__init__()
        self.norm_in = nn.GroupNorm(groups, in_channels)
        self.conv_in = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embed = nn.Linear(embed_dim, out_channels)
        self.norm_out = nn.GroupNorm(groups, out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv_in(F.silu(self.norm_in(x)))
        h = h + self.embed(F.silu(embedding))[:, :, None, None]
        h = self.conv_out(self.dropout(F.silu(self.norm_out(h))))
        return self.skip(x) + h


class UNetStage(nn.Module):
    """One residual block, optionally followed by a spatial transformer."""

    def __init__(self, res: ResBlock, transformer: SpatialTransformer | None) -> None:
        super().__init__()
        self.res = res
        self.transformer = transformer

    def forward(self, x, embedding, context, segment_mask):
        x = self.res(x, embedding)
        if self.transformer is not None:
            x = self.transformer(x, context, segment_mask)
        return x


class UNet(nn.Module):
    """``forward(x, timesteps, context, segment_mask) -> epsilon`` with ``x`` ``(B, C, T, P)``."""

    def __init__(self, config: UNetConfig, context_dim: int) -> None:
        super().__init__()
        self.config = config
        base = config.base_channels
        embed_dim = 4 * base
        groups = config.norm_groups
        self.time_embed = nn.Sequential(nn.Linear(base, embed_dim), nn.SiLU(), nn.Linear(embed_dim, embed_dim))

        def stage(cin: int, cout: int, level: int) -> UNetStage:
            transformer = None
            if level in config.attention_levels:
                transformer = SpatialTransformer(
                    cout, context_dim, config.num_heads, config.transformer_depth, groups
                )
            return UNetStage(ResBlock(cin, cout, embed_dim, groups, config.dropout), transformer)

        extra = ((METRIC_CHANNELS if config.metric_position else 0) + int(config.scale_input)
                 + int(config.groove_input) + (len(DYNAMIC_FEATURES) if config.dynamic_input else 0))
        self.conv_in = nn.Conv2d(config.in_channels + extra, base, 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_channels = [base]
        channels = base
        last = len(config.channel_mult) - 1
        for level, mult in enumerate(config.channel_mult):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                blocks.append(stage(channels, base * mult, level))
                channels = base * mult
                skip_channels.append(channels)
            self.down.append(blocks)
            if level != last:
                self.downsample.append(nn.Conv2d(channels, channels, 3, stride=2, padding=1))
                skip_channels.append(channels)

        self.middle_in = ResBlock(channels, channels, embed_dim, groups, config.dropout)
        self.middle_attention = SpatialTransformer(
            channels, context_dim, config.num_heads, config.transformer_depth, groups
        )
        self.middle_out = ResBlock(channels, channels, embed_dim, groups, config.dropout)

        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(config.channel_mult))):
            blocks = nn.ModuleList()
            for _ in range(config.num_res_blocks + 1):
                out_channels = base * config.channel_mult[level]
                blocks.append(stage(channels + skip_channels.pop(), out_channels, level))
                channels = out_channels
            self.up.append(blocks)
            if level != 0:
                self.upsample.append(nn.Conv2d(channels, channels, 3, padding=1))

        self.norm_out = nn.GroupNorm(groups, channels)
        self.conv_out = nn.Conv2d(channels, config.out_channels, 3, padding=1)
        nn.init.zeros_(self.conv_out.weight)
        nn.init.zeros_(self.conv_out.bias)

    def forward(
        self,
        x: torch.Tensor,
        timesteps: torch.Tensor,
        context: torch.Tensor,
        segment_mask: SegmentMask | None = None,
        scale: torch.Tensor | None = None,
        groove: torch.Tensor | None = None,
        dynamic: torch.Tensor | None = None,
        metric_steps: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``scale`` (``(B, P)``, the network's pitch columns) is read when ``config.scale_input``,
        ``groove`` (``(B, steps per bar)``) when ``config.groove_input``, ``dynamic`` (``(B, beats, 4)``)
        when ``config.dynamic_input``; ``None``: no key, no groove, no dynamics. ``metric_steps``
        (``(B, steps)``, each step's place in its bar) places the metric position and the groove;
        ``None``: 4/4 from the window's first step."""
        embedding = get_timestep_embedding(
            timesteps, self.config.base_channels, flip_sin_to_cos=True, downscale_freq_shift=0
        ).to(x.dtype)
        embedding = self.time_embed(embedding)
        if self.config.metric_position:
            batch, _, steps, pitches = x.shape
            position = metric_position_channels(steps, x.device, metric_steps).to(x.dtype)
            position = position.expand(batch, -1, -1) if position.ndim == 3 else position[None].expand(batch, -1, -1)
            x = torch.cat([x, position[:, :, :, None].expand(batch, -1, steps, pitches)], dim=1)
        if self.config.scale_input:
            batch, _, steps, pitches = x.shape
            if scale is None:
                scale = torch.zeros(batch, pitches, device=x.device)
            x = torch.cat([x, scale.to(x.dtype)[:, None, None, :].expand(batch, 1, steps, pitches)], dim=1)
        if self.config.groove_input:
            batch, _, steps, pitches = x.shape
            if groove is None:
                groove = torch.zeros(batch, STEPS_PER_BAR, device=x.device)
            if metric_steps is None:
                tiled = groove.to(x.dtype).repeat(1, steps // groove.shape[1])
            else:
                tiled = torch.gather(groove.to(x.dtype), 1, metric_steps % groove.shape[1])
            x = torch.cat([x, tiled[:, None, :, None].expand(batch, 1, steps, pitches)], dim=1)
        if self.config.dynamic_input:
            batch, _, steps, pitches = x.shape
            if dynamic is None:
                x = torch.cat([x, x.new_zeros(batch, len(DYNAMIC_FEATURES), steps, pitches)], dim=1)
            else:
                columns = torch.arange(self.config.pitch_low, self.config.pitch_high, device=x.device, dtype=x.dtype)
                x = torch.cat([x, dynamic_channels(dynamic.to(x.dtype), steps, columns)], dim=1)
        h = self.conv_in(x)
        skips = [h]
        for level, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, embedding, context, segment_mask)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle_in(h, embedding)
        h = self.middle_attention(h, context, segment_mask)
        h = self.middle_out(h, embedding)
        for index, blocks in enumerate(self.up):
            for block in blocks:
                h = block(torch.cat([h, skips.pop()], dim=1), embedding, context, segment_mask)
            if index < len(self.upsample):
                h = self.upsample[index](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv_out(F.silu(self.norm_out(h)))
