"""Condition encoders: per-stream token projection, learned null tokens and the feature selector.

Each stream (dynamic, semantic) is projected per beat to the cross-attention width and gets a learned
beat-position embedding. Each stream also has a learned *null* token sequence that replaces it when a
window is dropped during training (probability ``diffusion.condition_dropout``), which is what makes
classifier-free guidance possible at inference; the official Diff-BGM code never drops conditions.
"""

from __future__ import annotations

import torch
from torch import nn

from diffbgm.conditions import ConditionBatch
from diffbgm.models.config import ConditionConfig


class StreamProjection(nn.Module):
    """Per-beat features ``(B, beats, D)`` -> tokens ``(B, beats, width)`` with beat positions."""

    def __init__(self, in_dim: int, width: int, beats: int) -> None:
        super().__init__()
        self.project = nn.Sequential(nn.Linear(in_dim, width), nn.SiLU(), nn.Linear(width, width))
        self.beat_embedding = nn.Parameter(torch.randn(beats, width) * 0.02)
        self.null_tokens = nn.Parameter(torch.randn(beats, width) * 0.02)

    def forward(self, features: torch.Tensor, null_mask: torch.Tensor | None) -> torch.Tensor:
        beats = features.shape[1]
        tokens = self.project(features) + self.beat_embedding[:beats]
        if null_mask is not None:
            null = self.null_tokens[:beats].to(tokens.dtype).expand_as(tokens)
            tokens = torch.where(null_mask[:, None, None], null, tokens)
        return tokens


class ConditionStreams(nn.Module):
    """Both streams and the feature selector: conditions + timestep -> cross-attention tokens.

    The selector (Diff-BGM) feeds semantic tokens at high noise (``t > tau``), where the
    coarse content of the piece is decided, and dynamic tokens at low noise, where rhythm and
    details are refined. Ablation variants: ``semantic_only``, ``dynamic_only`` and ``concat`` (both
    token sequences side by side at every step).
    """

    def __init__(self, config: ConditionConfig) -> None:
        super().__init__()
        self.config = config
        self.dynamic = StreamProjection(config.dynamic_dim, config.width, config.beats)
        self.semantic = StreamProjection(config.semantic_dim, config.width, config.beats)

    def forward(
        self, conditions: ConditionBatch, timesteps: torch.Tensor, null_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return tokens ``(B, K, width)`` and the beat index ``(K,)`` of each token.

        ``null_mask`` (bool ``(B,)``) replaces the chosen windows' tokens by the null sequences.
        """
        variant = self.config.selector
        beats = conditions.segments.shape[1]
        key_beats = torch.arange(beats, device=conditions.segments.device)
        dynamic = semantic = None
        if variant != "semantic_only":
            dynamic = self.dynamic(conditions.dynamic, null_mask)
        if variant != "dynamic_only":
            semantic = self.semantic(conditions.semantic, null_mask)
        if variant == "semantic_only":
            return semantic, key_beats
        if variant == "dynamic_only":
            return dynamic, key_beats
        if variant == "concat":
            return torch.cat([dynamic, semantic], dim=1), torch.cat([key_beats, key_beats])
        use_semantic = (timesteps > self.config.tau).view(-1, 1, 1)
        return torch.where(use_semantic, semantic, dynamic), key_beats
