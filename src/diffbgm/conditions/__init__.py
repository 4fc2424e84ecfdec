"""Condition streams shared by training and inference.

A window is conditioned by two per-beat token streams (Diff-BGM): a *dynamic* stream
(features that change beat by beat, see :mod:`diffbgm.conditions.dynamic`) and a *semantic* stream
(sentence embeddings of a description, see :mod:`diffbgm.conditions.mood`), plus per-beat segment ids
(phrases at training time, shots at inference) for segment-aware cross-attention.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ConditionBatch:
    """Conditions for a batch of windows.

    Attributes
    ----------
    dynamic:
        float ``(B, beats, Dd)`` dynamic features per beat.
    semantic:
        float ``(B, beats, Ds)`` semantic embedding per beat.
    segments:
        long ``(B, beats)`` segment id of each beat (ids only need to be equal within a segment).
    """

    dynamic: torch.Tensor
    semantic: torch.Tensor
    segments: torch.Tensor

    def __post_init__(self) -> None:
        batch, beats = self.segments.shape
        for name in ("dynamic", "semantic"):
            value = getattr(self, name)
            if value.ndim != 3 or value.shape[:2] != (batch, beats):
                raise ValueError(
                    f"ConditionBatch.{name} must be (B={batch}, beats={beats}, D), got {tuple(value.shape)}"
                )

    def __len__(self) -> int:
        return self.segments.shape[0]

    def to(self, device: torch.device | str) -> "ConditionBatch":
        """The same conditions on ``device``."""
        return ConditionBatch(
            self.dynamic.to(device), self.semantic.to(device), self.segments.to(device)
        )

    def __getitem__(self, index) -> "ConditionBatch":
        """Select windows along the batch axis (an int keeps the batch axis)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return ConditionBatch(self.dynamic[index], self.semantic[index], self.segments[index])

    @staticmethod
    def cat(batches: "list[ConditionBatch]") -> "ConditionBatch":
        """Concatenate along the batch axis."""
        return ConditionBatch(
            torch.cat([b.dynamic for b in batches]),
            torch.cat([b.semantic for b in batches]),
            torch.cat([b.segments for b in batches]),
        )
