"""Training examples: POP909 windows -> (scaled piano roll, condition streams).

Without paired video, both condition streams are computed from the music itself (see
:mod:`diffbgm.conditions.dynamic` and :mod:`diffbgm.conditions.mood`): the dynamic stream from the
per-beat attributes, the semantic stream from a description of each phrase, so that at inference the
same features computed from a video (and shots in place of phrases) steer the model. The key and the
groove come from the song too: its annotated key and the window's own onset pattern.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from diffbgm.conditions import ConditionBatch, groove_vector, scale_vector
from diffbgm.conditions.dynamic import DYNAMIC_FEATURES, dynamic_from_attributes
from diffbgm.conditions.mood import describe
from diffbgm.music.mood import mood_from_music
from diffbgm.diffusion.schedule import roll_to_model
from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BAR, WINDOW_BARS, WINDOW_STEPS
from diffbgm.music.key import Key
from diffbgm.music.timing import metric_steps_of_bars
from diffbgm.music.window import MusicWindow

logger = logging.getLogger(__name__)

_DENSITY = DYNAMIC_FEATURES.index("density")
_REGISTER = DYNAMIC_FEATURES.index("register")


def relabel_segments(phrase_ids: np.ndarray) -> np.ndarray:
    """Per-beat phrase ids -> segment ids 0..k-1 in order of first appearance within the window."""
    _, first, inverse = np.unique(phrase_ids, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inverse].astype(np.int64)


def window_scale(window: MusicWindow) -> torch.Tensor:
    """The key condition of a window: its song's annotated key (transposed with it) as ``scale_vector``."""
    return torch.from_numpy(scale_vector(Key(window.key_tonic, window.key_mode).pitch_mask()))


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


def alike_phrases(semantic: np.ndarray, dynamic: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-beat conditions ``(beats, Ds)`` and ``(beats, Dd)`` with every phrase alike: the first beat's
    description throughout, the window's mean of every dynamic feature but the phrase start."""
    alike = np.repeat(semantic[:1], len(semantic), axis=0)
    flat = np.repeat(dynamic.mean(axis=0, keepdims=True), len(dynamic), axis=0)
    boundary = DYNAMIC_FEATURES.index("boundary")
    flat[:, boundary] = dynamic[:, boundary]
    return alike, flat.astype(dynamic.dtype)


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
    short_bar_prob:
        Share of the examples (drawn from their seed) with one bar cut short to 2/4 or 3/4
        (:func:`diffbgm.music.augment.shorten_bar`), preferably a bar before a phrase start, as the
        planner shortens the bar before a cut; their ``metric_steps`` say where the bar lines are.
    alike_prob:
        Share of the examples (drawn from their seed) whose phrases are made to look alike in their
        conditions: every beat gets the first phrase's description, and the density, accent and
        register the window's mean, while the phrase starts (``boundary``) and the segments stay. The
        notes are the song's, which still begin a new phrase there. A video of alike shots asks for
        exactly this (the same words and a steady picture on both sides of each cut); trained only on
        songs whose conditions change at every phrase start, the model read the change, not the phrase
        start, and went on through such cuts (issue 18's cut novelty).
    pitch_shift:
        Transpose each example by a random number of semitones in ``[-pitch_shift, pitch_shift]``.
        The semantic description is kept from the untransposed window (a few semitones do not change
        the mood); the dynamic stream follows the transposed notes.

    Items are requested as ``dataset[index]`` or ``dataset[(index, seed)]``, the seed choosing the
    augmentation, so a resumed run sees the same examples.
    """

    def __init__(self, windows: Sequence[MusicWindow], embedder: Any, pitch_shift: int = 0,
                 short_bar_prob: float = 0.0, alike_prob: float = 0.0) -> None:
        self.windows = windows
        self.pitch_shift = pitch_shift
        self.short_bar_prob = short_bar_prob
        self.alike_prob = alike_prob
        self._next: dict[int, int] = {}
        starts: dict[tuple[str, int], int] = {}
        texts: list[str] = []
        text_index: dict[str, int] = {}
        self._segments: list[np.ndarray] = []
        self._segment_text: list[np.ndarray] = []
        for index in range(len(windows)):
            window = windows[index]
            starts[(window.song, window.bar)] = index
            segments = relabel_segments(window.attributes["phrase_id"])
            ids = []
            for text in segment_descriptions(window, segments):
                if text not in text_index:
                    text_index[text] = len(texts)
                    texts.append(text)
                ids.append(text_index[text])
            self._segments.append(segments)
            self._segment_text.append(np.asarray(ids, dtype=np.int64))
        if short_bar_prob:
            self._next = {index: starts[(song, bar + 1)] for (song, bar), index in starts.items()
                          if (song, bar + 1) in starts}
        self.texts = texts
        self.text_embeddings = np.asarray(embedder.embed(texts), dtype=np.float32)
        logger.info("%d windows, %d distinct descriptions", len(windows), len(texts))

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        from diffbgm.music.augment import can_transpose, transpose_window

        index, seed = key if isinstance(key, tuple) else (key, None)
        window = self.windows[index]
        shift = 0
        if self.pitch_shift and seed is not None:
            shift = int(np.random.default_rng(seed).integers(-self.pitch_shift, self.pitch_shift + 1))
            if shift and can_transpose(window, shift):
                window = transpose_window(window, shift)
            else:
                shift = 0
        segments = self._segments[index]
        semantic = self.text_embeddings[self._segment_text[index][segments]]
        groove = groove_vector(window.pianoroll)
        metric_steps = np.arange(WINDOW_STEPS) % STEPS_PER_BAR
        following = self._next.get(index)
        if following is not None and seed is not None:
            rng = np.random.default_rng([*np.ravel(seed), 1])  # a stream of its own beside the pitch shift's
            continuation = self.windows[following]
            if rng.random() < self.short_bar_prob and (not shift or can_transpose(continuation, shift)):
                continuation = transpose_window(continuation, shift) if shift else continuation
                window, segments, semantic, metric_steps = self._shortened(window, continuation, semantic,
                                                                           following, rng)
        dynamic = dynamic_from_attributes(window.attributes)
        if self.alike_prob and seed is not None and np.random.default_rng([*np.ravel(seed), 2]).random() < self.alike_prob:
            semantic, dynamic = alike_phrases(semantic, dynamic)
        return {
            "x": roll_to_model(torch.from_numpy(np.ascontiguousarray(window.pianoroll, dtype=np.float32))),
            "dynamic": torch.from_numpy(dynamic),
            "semantic": torch.from_numpy(np.ascontiguousarray(semantic)),
            "segments": torch.from_numpy(segments),
            "scale": window_scale(window),
            "groove": torch.from_numpy(groove),
            "metric_steps": torch.from_numpy(metric_steps),
        }

    def _shortened(self, window: MusicWindow, continuation: MusicWindow, semantic: np.ndarray, following: int,
                   rng: np.random.Generator) -> tuple[MusicWindow, np.ndarray, np.ndarray, np.ndarray]:
        """The window with one bar cut short, its segments, per-beat semantic rows and metric steps."""
        from diffbgm.music.augment import shortened_beats, shorten_bar

        boundary = window.attributes["phrase_boundary"]
        # A bar before a phrase start, as the planner shortens the bar before a cut; else any bar.
        before_phrase = [bar for bar in range(WINDOW_BARS - 1) if boundary[(bar + 1) * BEATS_PER_BAR] > 0]
        bar = int(rng.choice(before_phrase or list(range(WINDOW_BARS - 1))))
        dropped = int(rng.integers(1, BEATS_PER_BAR - 1))
        shortened, bar_beats = shorten_bar(window, continuation, bar, dropped)
        theirs = self.text_embeddings[self._segment_text[following][self._segments[following]]]
        semantic = np.concatenate([semantic, theirs[-BEATS_PER_BAR:]])[shortened_beats(bar, dropped)]
        segments = relabel_segments(shortened.attributes["phrase_id"])
        return shortened, segments, semantic, metric_steps_of_bars(bar_beats)


def split_batch(batch: dict[str, torch.Tensor], device: torch.device | str) -> tuple[torch.Tensor, ConditionBatch]:
    """A collated batch -> (``x`` on ``device``, :class:`ConditionBatch` on ``device``)."""
    conditions = ConditionBatch(batch["dynamic"], batch["semantic"], batch["segments"], batch.get("scale"),
                                batch.get("groove"), batch.get("metric_steps"))
    return batch["x"].to(device), conditions.to(device)


def _beat_rows(n_rows: int, n_beats: int) -> np.ndarray:
    """Feature row of each song beat, resampled as the official Diff-BGM loader: ``int(i * T / n_beats)``."""
    return np.minimum((np.arange(n_beats) * n_rows) // max(n_beats, 1), n_rows - 1)


def _beat_shots(scenes: list[tuple[int, int]], n_beats: int) -> np.ndarray:
    """Shot index of each song beat.

    BGM909 gives shots in video frames and no frame rate; the videos span their songs, so beat ``i``
    is placed at the same fraction of the video (its centre, ``(i + 0.5) / n_beats``).
    """
    if not scenes:
        return np.zeros(n_beats, dtype=np.int64)
    starts = np.array([start for start, _ in scenes])
    frames = (np.arange(n_beats) + 0.5) / n_beats * (scenes[-1][1] + 1)
    return np.clip(np.searchsorted(starts, frames, side="right") - 1, 0, len(scenes) - 1)


class Bgm909Windows(Dataset):
    """POP909 windows paired with BGM909 video features: the paper's training data.

    The dynamic stream is the per-beat visual (CLIP) features, the semantic stream the per-beat
    caption (BERT) features, and the segments are the video's shots, as in Diff-BGM. Only songs with
    BGM909 files are kept. Song features are read on demand (a few songs cached), since all of
    BGM909 in memory would take over a gigabyte.

    Parameters
    ----------
    windows:
        POP909 windows (a :class:`diffbgm.music.dataset.WindowStore`).
    root:
        The BGM909 feature folder (:mod:`diffbgm.training.bgm909` layout).
    pitch_shift:
        As :class:`Pop909Windows` (conditions come from the video, so they do not move).
    """

    def __init__(self, windows: Sequence[MusicWindow], root, pitch_shift: int = 0, cache_songs: int = 32) -> None:
        from functools import lru_cache

        from diffbgm.training.bgm909 import list_bgm909, read_bgm909

        self.windows = windows
        self.pitch_shift = pitch_shift
        available = set(list_bgm909(root))
        self._keep: list[tuple[int, str, int]] = []
        song_beats: dict[str, int] = {}
        for index in range(len(windows)):
            window = windows[index]
            if window.song in available:
                self._keep.append((index, window.song, window.bar))
                beats = window.bar * BEATS_PER_BAR + len(window.attributes["phrase_id"])
                song_beats[window.song] = max(song_beats.get(window.song, 0), beats)
        self._song_beats = song_beats
        self._read = lru_cache(maxsize=cache_songs)(lambda song: read_bgm909(root, song))
        if self._keep:
            first = self._read(self._keep[0][1])
            self.dynamic_dim, self.semantic_dim = first.visual.shape[1], first.caption.shape[1]
        logger.info("%d windows of %d songs with BGM909 features", len(self._keep), len(song_beats))

    def __len__(self) -> int:
        return len(self._keep)

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        position, seed = key if isinstance(key, tuple) else (key, None)
        index, song, bar = self._keep[position]
        window = self.windows[index]
        if self.pitch_shift and seed is not None:
            from diffbgm.music.augment import can_transpose, transpose_window

            shift = int(np.random.default_rng(seed).integers(-self.pitch_shift, self.pitch_shift + 1))
            if shift and can_transpose(window, shift):
                window = transpose_window(window, shift)
        item = self._read(song)
        n_beats = self._song_beats[song]
        beats = slice(bar * BEATS_PER_BAR, bar * BEATS_PER_BAR + len(window.attributes["phrase_id"]))
        rows = _beat_rows(len(item.visual), n_beats)[beats]
        shots = _beat_shots(item.scenes, n_beats)[beats]
        return {
            "x": roll_to_model(torch.from_numpy(np.ascontiguousarray(window.pianoroll, dtype=np.float32))),
            "dynamic": torch.from_numpy(item.visual[rows]),
            "semantic": torch.from_numpy(item.caption[rows]),
            "segments": torch.from_numpy(relabel_segments(shots)),
            "scale": window_scale(window),
            "groove": torch.from_numpy(groove_vector(window.pianoroll)),
        }
