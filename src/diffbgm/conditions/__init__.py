"""Condition streams shared by training and inference.

A window is conditioned by two per-beat token streams (Diff-BGM): a *dynamic* stream
(features that change beat by beat, see :mod:`diffbgm.conditions.dynamic`) and a *semantic* stream
(sentence embeddings of a description, see :mod:`diffbgm.conditions.mood`), plus per-beat segment ids
(phrases at training time, shots at inference) for segment-aware cross-attention. Optionally a key:
which pitches belong to the scale the music should keep to; and optionally a groove: where in the
bar the music starts its notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from diffbgm.music.grid import N_PITCHES, ONSET, STEPS_PER_BAR, WINDOW_STEPS
from diffbgm.music.key import Key

# Per-window vectors a ConditionBatch may carry, and their widths.
OPTIONAL_WIDTHS = {"scale": N_PITCHES, "groove": STEPS_PER_BAR, "metric_steps": WINDOW_STEPS}


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
    groove:
        float ``(B, 16)`` per sixteenth of the bar: how regularly the window's bars start notes there,
        from -1 (never) to +1 (every bar), all zeros for a window with no groove (see
        :func:`groove_vector`); ``None`` when no window has one. Only models built with
        ``unet.groove_input`` read it.
    metric_steps:
        long ``(B, 128)``: each step's place in its bar, 0 on a bar line; ``None``: every window starts on
        a bar line of 4/4, as in training (see :func:`default_metric_steps`). A bar of 2 or 3 beats
        (a metre change at a cut) restarts the count early. Models built with ``unet.metric_position``
        read it (their metric-position channels and groove tiling); it is never nulled, as it is the
        music's own grid, not a condition.
    """

    dynamic: torch.Tensor
    semantic: torch.Tensor
    segments: torch.Tensor
    scale: torch.Tensor | None = None
    groove: torch.Tensor | None = None
    metric_steps: torch.Tensor | None = None

    def __post_init__(self) -> None:
        batch, beats = self.segments.shape
        for name in ("dynamic", "semantic"):
            value = getattr(self, name)
            if value.ndim != 3 or value.shape[:2] != (batch, beats):
                raise ValueError(
                    f"ConditionBatch.{name} must be (B={batch}, beats={beats}, D), got {tuple(value.shape)}"
                )
        for name, width in OPTIONAL_WIDTHS.items():
            value = getattr(self, name)
            if value is not None and tuple(value.shape) != (batch, width):
                raise ValueError(f"ConditionBatch.{name} must be (B={batch}, {width}), got {tuple(value.shape)}")

    def __len__(self) -> int:
        return self.segments.shape[0]

    def _map(self, function) -> "ConditionBatch":
        """``function`` applied to every tensor present."""
        return ConditionBatch(
            *(function(getattr(self, name)) for name in ("dynamic", "semantic", "segments")),
            **{name: None if getattr(self, name) is None else function(getattr(self, name))
               for name in OPTIONAL_WIDTHS},
        )

    def to(self, device: torch.device | str) -> "ConditionBatch":
        """The same conditions on ``device``."""
        return self._map(lambda tensor: tensor.to(device))

    def __getitem__(self, index) -> "ConditionBatch":
        """Select windows along the batch axis (an int keeps the batch axis)."""
        if isinstance(index, int):
            index = slice(index, index + 1)
        return self._map(lambda tensor: tensor[index])

    def _filled(self, name: str) -> torch.Tensor:
        value = getattr(self, name)
        if value is not None:
            return value
        if name == "metric_steps":
            return default_metric_steps(len(self), self.segments.device)
        return torch.zeros(len(self), OPTIONAL_WIDTHS[name], device=self.segments.device)

    def scales(self) -> torch.Tensor:
        """``scale``, with zeros (no key) when it is ``None``."""
        return self._filled("scale")

    def grooves(self) -> torch.Tensor:
        """``groove``, with zeros (no groove) when it is ``None``."""
        return self._filled("groove")

    def with_scale(self, scale: torch.Tensor | None) -> "ConditionBatch":
        """The same conditions with ``scale`` replaced."""
        return replace(self, scale=scale)

    def with_groove(self, groove: torch.Tensor | None) -> "ConditionBatch":
        """The same conditions with ``groove`` replaced."""
        return replace(self, groove=groove)

    def with_metric_steps(self, metric_steps: Sequence[np.ndarray] | None) -> "ConditionBatch":
        """The same conditions with each window's metric steps (``(128,)`` ints, e.g. a slice of
        ``TimingPlan.metric_steps``); ``None``: 4/4 from each window's first step."""
        if metric_steps is None:
            return replace(self, metric_steps=None)
        if len(metric_steps) != len(self):
            raise ValueError(f"{len(metric_steps)} metric step rows for {len(self)} windows")
        rows = torch.from_numpy(np.stack([np.asarray(row, dtype=np.int64) for row in metric_steps]))
        return replace(self, metric_steps=rows.to(self.segments.device))

    def with_keys(self, keys: Sequence[Key | None]) -> "ConditionBatch":
        """The same conditions with one key (or ``None``) per window: training, evaluation and
        generation all tell the model a key through here."""
        if len(keys) != len(self):
            raise ValueError(f"{len(keys)} keys for {len(self)} windows")
        if all(key is None for key in keys):
            return self.with_scale(None)
        scales = np.stack([scale_vector(None if key is None else key.pitch_mask()) for key in keys])
        return self.with_scale(torch.from_numpy(scales).to(self.segments.device))

    def with_grooves(self, grooves: Sequence[np.ndarray | None]) -> "ConditionBatch":
        """The same conditions with one groove (:func:`groove_vector`, or ``None``) per window."""
        if len(grooves) != len(self):
            raise ValueError(f"{len(grooves)} grooves for {len(self)} windows")
        if all(groove is None for groove in grooves):
            return self.with_groove(None)
        rows = np.stack([np.zeros(STEPS_PER_BAR, np.float32) if g is None else np.asarray(g, np.float32)
                         for g in grooves])
        return self.with_groove(torch.from_numpy(rows).to(self.segments.device))

    @staticmethod
    def cat(batches: "list[ConditionBatch]") -> "ConditionBatch":
        """Concatenate along the batch axis (a window without a key or groove gets zeros if another has one)."""
        optional = {
            name: torch.cat([b._filled(name) for b in batches])
            if any(getattr(b, name) is not None for b in batches) else None
            for name in OPTIONAL_WIDTHS
        }
        return ConditionBatch(
            torch.cat([b.dynamic for b in batches]),
            torch.cat([b.semantic for b in batches]),
            torch.cat([b.segments for b in batches]),
            **optional,
        )


def default_metric_steps(batch: int, device: torch.device | str | None = None) -> torch.Tensor:
    """``(batch, 128)`` metric steps of windows that start on a bar line of 4/4: ``step mod 16``."""
    return (torch.arange(WINDOW_STEPS, device=device) % STEPS_PER_BAR).expand(batch, -1)


def scale_vector(pitch_mask: np.ndarray | None) -> np.ndarray:
    """A key's bool ``(128,)`` pitch mask (:meth:`diffbgm.music.key.Key.pitch_mask`) -> float32 +1/-1.

    ``None`` (no key) gives zeros, which is also what the null condition and key dropout feed.
    """
    if pitch_mask is None:
        return np.zeros(N_PITCHES, dtype=np.float32)
    return np.where(np.asarray(pitch_mask, dtype=bool), 1.0, -1.0).astype(np.float32)


def groove_vector(roll: np.ndarray | None) -> np.ndarray:
    """A piano roll ``(2, steps, 128)`` starting on a bar line -> float32 ``(16,)`` groove, ``2 f - 1``.

    ``f`` is the share of the window's bars that start a note on each sixteenth of the bar (bars
    without notes do not count). It is the per-bar onset pattern GPS compares (Wu & Yang 2020), averaged:
    a window whose bars repeat one figure has values at -1 and +1 only. ``None`` (no groove), or a
    silent window, gives zeros, which is also what the null condition and groove dropout feed; a
    position struck in exactly half the bars is 0 too, as undecided as no groove there.
    """
    if roll is None:
        return np.zeros(STEPS_PER_BAR, dtype=np.float32)
    onsets = np.asarray(roll)[ONSET].any(axis=-1)
    onsets = np.pad(onsets, (0, -len(onsets) % STEPS_PER_BAR))  # a last, unfinished bar still counts
    bars = onsets.reshape(-1, STEPS_PER_BAR)
    bars = bars[bars.any(axis=1)]
    if not len(bars):
        return np.zeros(STEPS_PER_BAR, dtype=np.float32)
    return (2.0 * bars.mean(axis=0) - 1.0).astype(np.float32)
