"""Training examples: POP909 windows -> (scaled piano roll, condition streams).

Without paired video, both condition streams are computed from the music itself (see
:mod:`diffbgm.conditions.dynamic` and :mod:`diffbgm.conditions.mood`): the dynamic stream from the
per-beat attributes, the semantic stream from a description of each phrase, so that at inference the
same features computed from a video (and shots in place of phrases) steer the model.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from diffbgm.conditions import ConditionBatch
from diffbgm.conditions.dynamic import DYNAMIC_FEATURES, dynamic_from_attributes
from diffbgm.conditions.mood import describe, mood_from_music
from diffbgm.diffusion.schedule import roll_to_model
from diffbgm.music.window import MusicWindow

logger = logging.getLogger(__name__)

_DENSITY = DYNAMIC_FEATURES.index("density")
_REGISTER = DYNAMIC_FEATURES.index("register")


def relabel_segments(phrase_ids: np.ndarray) -> np.ndarray:
    """Per-beat phrase ids -> segment ids 0..k-1 in order of first appearance within the window."""
    _, first, inverse = np.unique(phrase_ids, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)


def segment_descriptions(window: MusicWindow, segments: np.ndarray) -> list[str]:
    """One mood description per segment of the window (as :func:`diffbgm.conditions.mood.describe`)."""
    dynamic = dynamic_from_attributes(window.attributes)
    texts = []
    for segment in range(int(segments.max()) + 1):
        beats = segments == segment
        density = float(dynamic[beats, _DENSITY].mean())
        sounding = beats & (window.attributes["pitch_mean"] > 0)
        register = float(dynamic[sounding, _REGISTER].mean()) if sounding.any() else 0.5
        mood = mood_from_music(window.key_mode, window.tempo_bpm, density, register)
        texts.append(describe(mood, window.tempo_bpm, density, register))
    return texts


class Pop909Windows(Dataset):
    """POP909 windows with music-derived conditions.

    Parameters
    ----------
    windows:
        Random-access :class:`MusicWindow` items (a :class:`diffbgm.music.dataset.WindowStore`).
    embedder:
        Has ``embed(texts) -> (N, Ds)`` (a :class:`diffbgm.conditions.text.SentenceEmbedder`). All
        descriptions are computed and embedded once here; they repeat a lot, so only the distinct
        ones are embedded.
    pitch_shift:
        Transpose each example by a random number of semitones in ``[-pitch_shift, pitch_shift]``.
        The semantic description is kept from the untransposed window (a few semitones do not change
        the mood); the dynamic stream follows the transposed notes.

    Items are requested as ``dataset[index]`` or ``dataset[(index, seed)]``, the seed choosing the
    augmentation, so a resumed run sees the same examples.
    """

    def __init__(self, windows: Sequence[MusicWindow], embedder: Any, pitch_shift: int = 0) -> None:
        self.windows = windows
        self.pitch_shift = pitch_shift
        texts: list[str] = []
        text_index: dict[str, int] = {}
        self._segments: list[np.ndarray] = []
        self._segment_text: list[np.ndarray] = []
        for index in range(len(windows)):
            window = windows[index]
            segments = relabel_segments(window.attributes["phrase_id"])
            ids = []
            for text in segment_descriptions(window, segments):
                if text not in text_index:
                    text_index[text] = len(texts)
                    texts.append(text)
                ids.append(text_index[text])
            self._segments.append(segments)
            self._segment_text.append(np.asarray(ids, dtype=np.int64))
        self.texts = texts
        self.text_embeddings = np.asarray(embedder.embed(texts), dtype=np.float32)
        logger.info("%d windows, %d distinct descriptions", len(windows), len(texts))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        index, seed = key if isinstance(key, tuple) else (key, None)
        window = self.windows[index]
        if self.pitch_shift and seed is not None:
            from diffbgm.music.augment import can_transpose, transpose_window

            shift = int(np.random.default_rng(seed).integers(-self.pitch_shift, self.pitch_shift + 1))
            if shift and can_transpose(window, shift):
                window = transpose_window(window, shift)
        segments = self._segments[index]
        semantic = self.text_embeddings[self._segment_text[index][segments]]
        return {
            "x": roll_to_model(torch.from_numpy(np.ascontiguousarray(window.pianoroll, dtype=np.float32))),
            "dynamic": torch.from_numpy(dynamic_from_attributes(window.attributes)),
            "semantic": torch.from_numpy(semantic),
            "segments": torch.from_numpy(segments),
        }


def split_batch(batch: dict[str, torch.Tensor], device: torch.device | str) -> tuple[torch.Tensor, ConditionBatch]:
    """A collated batch -> (``x`` on ``device``, :class:`ConditionBatch` on ``device``)."""
    conditions = ConditionBatch(batch["dynamic"], batch["semantic"], batch["segments"])
    return batch["x"].to(device), conditions.to(device)
