"""Which POP909-valid windows an evaluation runs on: a deterministic, spread-out sample, and the
eight bars before each (the music ``diffbgm generate`` has written before a window)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from diffbgm.music.dataset import MANIFEST, WindowStore
from diffbgm.music.grid import WINDOW_BARS
from diffbgm.music.window import MusicWindow


def select_eval_windows(store: WindowStore, n: int, seed: int = 0) -> list[MusicWindow]:
    """A deterministic, spread-out sample of ``n`` windows of ``store``.

    Within a song the chosen windows never overlap (they start at least ``WINDOW_BARS`` bars apart,
    from a random first bar); songs are visited round-robin in a random order, so the sample covers as
    many songs as ``n`` allows, with at most one more window per song than any other song.

    Raises
    ------
    ValueError
        If the store holds fewer than ``n`` non-overlapping windows.
    """
    if n < 1:
        raise ValueError("the number of evaluation windows must be at least 1")
    rng = np.random.default_rng(seed)
    bars_of: dict[str, list[tuple[int, int]]] = {}
    for index, (song, bar) in enumerate(_store_keys(store)):
        bars_of.setdefault(song, []).append((bar, index))
    per_song: list[list[int]] = []
    for song in sorted(bars_of):
        bars = sorted(bars_of[song])
        first = int(rng.integers(min(WINDOW_BARS, len(bars))))
        chosen, next_free = [], -1
        for bar, index in bars[first:]:
            if bar >= next_free:
                chosen.append(index)
                next_free = bar + WINDOW_BARS
        per_song.append([chosen[i] for i in rng.permutation(len(chosen))])
    available = sum(len(c) for c in per_song)
    if available < n:
        raise ValueError(f"only {available} non-overlapping windows in the store, {n} requested")
    order = rng.permutation(len(per_song))
    picked: list[int] = []
    for round_ in range(max(len(c) for c in per_song)):
        for song in order:
            if round_ < len(per_song[song]) and len(picked) < n:
                picked.append(per_song[song][round_])
    return [store[i] for i in sorted(picked)]


def preceding_windows(store: WindowStore, windows: list[MusicWindow]) -> list[MusicWindow | None]:
    """For each window, the window of ``store`` on the ``WINDOW_BARS`` bars of its song just before it.

    ``None`` where there is none (the song's first bars). It is the music ``diffbgm generate`` has
    written before a window, the one ``--groove auto`` takes the groove of.
    """
    index_of = {key: index for index, key in enumerate(_store_keys(store))}
    before = [index_of.get((w.song, w.bar - WINDOW_BARS)) for w in windows]
    return [None if index is None else store[index] for index in before]


def _store_keys(store: WindowStore) -> list[tuple[str, int]]:
    """``(song, bar)`` of every window of the store, in store order, read from its manifest (no rendering)."""
    entries = [json.loads(line) for line in (Path(store.root) / MANIFEST).read_text().splitlines() if line.strip()]
    keys = [(e["song"], int(e["bar"])) for e in entries if store.split is None or e["split"] == store.split]
    if len(keys) != len(store):
        raise ValueError(f"{store.root}: the manifest changed since the store was loaded")
    return keys
