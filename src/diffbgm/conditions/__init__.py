"""Condition streams shared by training and inference.

A window is conditioned by two per-beat token streams (Diff-BGM): a *dynamic* stream
(features that change beat by beat, see :mod:`diffbgm.conditions.dynamic`) and a *semantic* stream
(sentence embeddings of a description, see :mod:`diffbgm.conditions.mood`), plus per-beat segment ids
(phrases at training time, shots at inference) for segment-aware cross-attention. Optionally a key:
which pitches belong to the scale the music should keep to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
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
    scale:
        float ``(B, 128)`` per MIDI pitch: +1 in the scale of the requested key, -1 outside it, 0 for a
        window with no key (see :func:`scale_vector`); ``None`` when no window has one. Only models
        built with ``unet.scale_input`` read it.
    """

    dynamic: torch.Tensor
    semantic: torch.Tensor
    segments: torch.Tensor
    scale: torch.Tensor | None = None

    def __post_init__(self) -> None:
        batch, beats = self.segments.shape
        for name in ("dynamic", "semantic"):
            value = getattr(self, name)
            if value.ndim != 3 or value.shape[:2] != (batch, beats):
                raise ValueError(
                    f"ConditionBatch.{name} must be (B={batch}, beats={beats}, D), got {tuple(value.shape)}"
                )
        if self.scale is not None and tuple(self.scale.shape) != (batch, 128):
            raise ValueError(f"ConditionBatch.scale must be (B={batch}, 128), got {tuple(self.scale.shape)}")

    def __len__(self) -> int:
        return self.segments.shape[0]

    def to(self, device: torch.device | str) -> "ConditionBatch":
        """The same conditions on ``device``."""
        scale = None if self.scale is None else self.scale.to(device)
        return ConditionBatch(self.dynamic.to(device), self.semantic.to(device), self.segments.to(device), scale)

    def __getitem__(self, index) -> "ConditionBatch":
        """Select windows along the batch axis (an int keeps the batch axis)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        scale = None if self.scale is None else self.scale[index]
        return ConditionBatch(self.dynamic[index], self.semantic[index], self.segments[index], scale)

    def scales(self) -> torch.Tensor:
        """``scale``, with zeros (no key) when it is ``None``."""
        if self.scale is not None:
            return self.scale
        return torch.zeros(len(self), 128, device=self.segments.device)

    def with_scale(self, scale: torch.Tensor | None) -> "ConditionBatch":
        """The same conditions with ``scale`` replaced."""
        return ConditionBatch(self.dynamic, self.semantic, self.segments, scale)

    @staticmethod
    def cat(batches: "list[ConditionBatch]") -> "ConditionBatch":
        """Concatenate along the batch axis (windows without a key get zeros if any other has one)."""
        scale = None
        if any(b.scale is not None for b in batches):
            scale = torch.cat([b.scales() for b in batches])
        return ConditionBatch(
            torch.cat([b.dynamic for b in batches]),
            torch.cat([b.semantic for b in batches]),
            torch.cat([b.segments for b in batches]),
            scale,
        )


def scale_vector(pitch_mask: np.ndarray | None) -> np.ndarray:
    """A key's bool ``(128,)`` pitch mask (:meth:`diffbgm.music.key.Key.pitch_mask`) -> float32 +1/-1.

    ``None`` (no key) gives zeros, which is also what the null condition and key dropout feed.
    """
    if pitch_mask is None:
        return np.zeros(128, dtype=np.float32)
    return np.where(np.asarray(pitch_mask, dtype=bool), 1.0, -1.0).astype(np.float32)
