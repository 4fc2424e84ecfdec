"""Spatial transformer blocks with segment-aware cross-attention (Diff-BGM).

The piano roll's rows are time and its columns pitches. Condition tokens are per beat. With
segment-aware cross-attention a music position whose time falls in a beat of segment ``k`` (a phrase
at training time, a video shot at inference) attends only to condition tokens of segment ``k``;
self-attention stays global so the segments still form one piece.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SegmentMask:
    """Boolean cross-attention masks for one forward pass, built lazily per feature-map size.

    Parameters
    ----------
    segments:
        long ``(B, beats)`` segment id per beat.
    key_beats:
        long ``(K,)`` beat index of each condition token.
    """

    def __init__(self, segments: torch.Tensor, key_beats: torch.Tensor) -> None:
        self.segments = segments
        self.key_beats = key_beats.to(segments.device)
        self._cache: dict[tuple[int, int], torch.Tensor] = {}
        # same[b, i, k]: beat i and token k's beat lie in the same segment.
        key_segments = segments[:, self.key_beats]
        self._same = segments[:, :, None] == key_segments[:, None, :]

    @classmethod
    def halves(cls, batch: int, beats: int, key_beats: torch.Tensor) -> "SegmentMask":
        """The official Diff-BGM mask: the first half of the window sees the first half of tokens."""
        segments = (torch.arange(beats, device=key_beats.device) >= beats // 2).long()
        return cls(segments.expand(batch, beats), key_beats)

    def for_shape(self, height: int, width: int) -> torch.Tensor:
        """Mask ``(B, 1, height * width, K)``, True where a query may attend to a token."""
        key = (height, width)
        if key not in self._cache:
            beats = self.segments.shape[1]
            rows = torch.arange(height, device=self.segments.device)
            beat = torch.arange(beats, device=self.segments.device)
            # Row r covers time [r/H, (r+1)/H) of the window, beat b covers [b/beats, (b+1)/beats).
            overlap = (beat[None, :] * height < (rows[:, None] + 1) * beats) & (
                (beat[None, :] + 1) * height > rows[:, None] * beats
            )
            allowed = torch.einsum("rb,nbk->nrk", overlap.float(), self._same.float()) > 0
            # Never leave a query with nothing to attend to (softmax over an empty set is NaN).
            allowed = allowed | ~allowed.any(dim=-1, keepdim=True)
            batch, _, keys = allowed.shape
            mask = allowed[:, :, None, :].expand(batch, height, width, keys)
            self._cache[key] = mask.reshape(batch, 1, height * width, keys)
        return self._cache[key]


class Attention(nn.Module):
    """Multi-head attention; keys/values from ``context`` (cross) or from the queries (self)."""

    def __init__(self, query_dim: int, context_dim: int | None, num_heads: int) -> None:
        super().__init__()
        context_dim = query_dim if context_dim is None else context_dim
        self.num_heads = num_heads
        self.to_q = nn.Linear(query_dim, query_dim, bias=False)
        self.to_k = nn.Linear(context_dim, query_dim, bias=False)
        self.to_v = nn.Linear(context_dim, query_dim, bias=False)
        self.to_out = nn.Linear(query_dim, query_dim)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        context = x if context is None else context
        batch, queries, dim = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, -1, self.num_heads, dim // self.num_heads).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.to_q(x)), heads(self.to_k(context)), heads(self.to_v(context)), attn_mask=mask
        )
        return self.to_out(out.transpose(1, 2).reshape(batch, queries, dim))


class SegmentAwareCrossAttention(Attention):
    """Cross-attention whose queries see only the condition tokens of their own segment.

    ``forward(x, context, segment_mask, height, width)`` with ``x`` the flattened ``(B, H*W, C)``
    feature map; ``segment_mask`` ``None`` attends everywhere.
    """

    def forward(  # type: ignore[override]
        self,
        x: torch.Tensor,
        context: torch.Tensor,
        segment_mask: SegmentMask | None = None,
        height: int = 0,
        width: int = 0,
    ) -> torch.Tensor:
        mask = None if segment_mask is None else segment_mask.for_shape(height, width)
        return super().forward(x, context, mask)


class GEGLUFeedForward(nn.Module):
    """The gated-GELU feed-forward of Stable Diffusion's transformer blocks (inner width 4x)."""

    def __init__(self, dim: int, mult: int = 4) -> None:
        super().__init__()
        self.project_in = nn.Linear(dim, dim * mult * 2)
        self.project_out = nn.Linear(dim * mult, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden, gate = self.project_in(x).chunk(2, dim=-1)
        return self.project_out(hidden * F.gelu(gate))


class TransformerBlock(nn.Module):
    """Pre-norm self-attention, segment-aware cross-attention and feed-forward."""

    def __init__(self, dim: int, context_dim: int, num_heads: int) -> None:
        super().__init__()
        self.norm_self = nn.LayerNorm(dim)
        self.self_attention = Attention(dim, None, num_heads)
        self.norm_cross = nn.LayerNorm(dim)
        self.cross_attention = SegmentAwareCrossAttention(dim, context_dim, num_heads)
        self.norm_ff = nn.LayerNorm(dim)
        self.feed_forward = GEGLUFeedForward(dim)

    def forward(self, x, context, segment_mask, height, width):
        x = x + self.self_attention(self.norm_self(x))
        x = x + self.cross_attention(self.norm_cross(x), context, segment_mask, height, width)
        return x + self.feed_forward(self.norm_ff(x))


class SpatialTransformer(nn.Module):
    """LDM's spatial transformer: (B, C, H, W) -> tokens -> transformer blocks -> (B, C, H, W)."""

    def __init__(self, channels: int, context_dim: int, num_heads: int, depth: int, groups: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(groups, channels, eps=1e-6)
        self.project_in = nn.Conv2d(channels, channels, 1)
        self.blocks = nn.ModuleList(
            [TransformerBlock(channels, context_dim, num_heads) for _ in range(depth)]
        )
        self.project_out = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.project_out.weight)
        nn.init.zeros_(self.project_out.bias)

    def forward(
        self, x: torch.Tensor, context: torch.Tensor, segment_mask: SegmentMask | None
    ) -> torch.Tensor:
        batch, channels, height, width = x.shape
        h = self.project_in(self.norm(x))
        h = h.permute(0, 2, 3, 1).reshape(batch, height * width, channels)
        for block in self.blocks:
            h = block(h, context, segment_mask, height, width)
        h = h.reshape(batch, height, width, channels).permute(0, 3, 1, 2)
        return x + self.project_out(h)
