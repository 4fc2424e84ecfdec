"""POP909 -> 8-bar training windows, stored compactly and rendered on access.

Layout of a built data set::

    <out>/shards/<song>.npz   notes (N, 4) int32 [pitch, start, duration, velocity] on the MIDI step grid,
                              beat_map (B,) MIDI beat of every structure beat, chords (B, 36) uint8,
                              attributes (B, 7) float32 (ATTRIBUTE_NAMES order), window_bars, key, tempo
    <out>/manifest.jsonl      one line per window: {"song", "bar", "split", "shard"}
    <out>/summary.json        songs, windows per split, skips by reason, build time

Windows start on the structure's bar lines (POP909-structure ``human_label1.txt``), every ``stride_bars``
bars, as Polyffusion's 8-bar windows with a 1-bar hop. Every file is written to a temporary name and
renamed, so an interrupted build leaves only whole files and a re-run skips finished songs.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from diffbgm.atomic import atomic_output
from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT, WINDOW_BARS, WINDOW_BEATS, WINDOW_STEPS, N_PITCHES
from diffbgm.music.notes import Note
from diffbgm.music.pop909 import AnnotationError, Pop909Song, load_song
from diffbgm.music.window import ATTRIBUTE_NAMES, MusicWindow

logger = logging.getLogger(__name__)

SHARD_DIR = "shards"
MANIFEST = "manifest.jsonl"
SUMMARY = "summary.json"


def notes_to_array(notes: list[Note]) -> np.ndarray:
    """Notes -> int32 ``(N, 4)`` [pitch, start, duration, velocity]."""
    return np.array([(n.pitch, n.start, n.duration, n.velocity) for n in notes], dtype=np.int32).reshape(-1, 4)


def beat_attributes(notes: np.ndarray, n_beats: int) -> np.ndarray:
    """float32 ``(n_beats, 5)``: onset_density, onset_strength, pitch_mean, pitch_low, pitch_high per beat.

    Definitions as ``diffbgm.music.window`` documents; ``notes`` as :func:`notes_to_array`.
    """
    out = np.zeros((n_beats, 5), dtype=np.float32)
    pitch, start, duration, velocity = notes.T if len(notes) else (np.zeros(0, int),) * 4
    onset_beat = start // STEPS_PER_BEAT
    for beat in range(n_beats):
        starting = onset_beat == beat
        if starting.any():
            steps_with_onsets = len(np.unique(start[starting]))
            out[beat, 0] = starting.sum()
            out[beat, 1] = velocity[starting].mean() / 127.0 * starting.sum() / steps_with_onsets
        lo, hi = beat * STEPS_PER_BEAT, (beat + 1) * STEPS_PER_BEAT
        sounding = (start < hi) & (start + duration > lo)
        if sounding.any():
            out[beat, 2] = pitch[sounding].mean()
            out[beat, 3] = pitch[sounding].min()
            out[beat, 4] = pitch[sounding].max()
    return out


def phrase_attributes(song: Pop909Song) -> np.ndarray:
    """float32 ``(4 * n_bars, 2)``: phrase_boundary, phrase_id per structure beat."""
    out = np.zeros((song.n_bars * BEATS_PER_BAR, 2), dtype=np.float32)
    for index, phrase in enumerate(song.phrases):
        first = phrase.start_bar * BEATS_PER_BAR
        out[first, 0] = 1.0
        out[first : first + phrase.n_bars * BEATS_PER_BAR, 1] = index
    return out


def song_arrays(song: Pop909Song, split: str, stride_bars: int) -> dict[str, np.ndarray]:
    """The compact per-song record a shard holds."""
    notes = notes_to_array(song.notes)
    beat_map = song.beat_map()
    # Structure beats past the annotated MIDI beats (a last bar beyond the audio) cannot form windows.
    usable_beats = int(np.searchsorted(beat_map >= song.tempo_map.n_beats, True))
    beat_map = beat_map[:usable_beats]
    midi_attributes = beat_attributes(notes, song.tempo_map.n_beats)
    attributes = np.concatenate([midi_attributes[beat_map], phrase_attributes(song)[:usable_beats]], axis=1)
    n_bars = usable_beats // BEATS_PER_BAR
    window_bars = np.arange(0, n_bars - WINDOW_BARS + 1, stride_bars, dtype=np.int32)
    return {
        "notes": notes,
        "beat_map": beat_map.astype(np.int32),
        "chords": song.chords[beat_map].astype(np.uint8),
        "attributes": attributes.astype(np.float32),
        "window_bars": window_bars,
        "key_tonic": np.int32(song.key_tonic),
        "key_mode": np.array(song.key_mode),
        "tempo_bpm": np.float32(song.tempo_map.median_bpm()),
        "split": np.array(split),
        "melody_match": np.float32(song.melody_match),
    }


def render_window(record: dict[str, np.ndarray], bar: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Piano roll ``(2, 128, 128)``, chords ``(32, 36)`` and attributes ``(32, 7)`` of the window at structure ``bar``."""
    first = bar * BEATS_PER_BAR
    midi_beats = record["beat_map"][first : first + WINDOW_BEATS]
    notes = record["notes"]
    # Window step of every MIDI step in the window; beats the structure dropped map nowhere (-1).
    window_step = np.full(int(midi_beats.max() + 1) * STEPS_PER_BEAT, -1, dtype=np.int64)
    midi_steps = (midi_beats[:, None] * STEPS_PER_BEAT + np.arange(STEPS_PER_BEAT)).ravel()
    window_step[midi_steps] = np.arange(WINDOW_STEPS)
    lo, hi = int(midi_steps.min()), len(window_step)
    candidates = notes[(notes[:, 1] >= lo) & (notes[:, 1] < hi)]
    roll = np.zeros((2, WINDOW_STEPS, N_PITCHES), dtype=np.float32)
    for pitch, start, duration, _ in candidates:
        t = window_step[start]
        if t < 0:
            continue
        roll[0, t, pitch] = 1.0
        roll[1, t + 1 : min(t + duration, WINDOW_STEPS), pitch] = 1.0
    roll[1] *= 1.0 - roll[0]
    chords = record["chords"][first : first + WINDOW_BEATS].astype(np.float32)
    attributes = record["attributes"][first : first + WINDOW_BEATS]
    return roll, chords, attributes


def _atomic_write_bytes(path: Path, write) -> None:
    with atomic_output(path) as temp, open(temp, "wb") as stream:
        write(stream)


def write_shard(path: Path, record: dict[str, np.ndarray]) -> None:
    """Save a song record atomically."""
    _atomic_write_bytes(path, lambda stream: np.savez_compressed(stream, **record))


def load_shard(path: Path) -> dict[str, np.ndarray]:
    """A song record as :func:`song_arrays` wrote it."""
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@dataclass
class BuildResult:
    """Outcome of :func:`build_pop909`."""

    summary: dict
    out_dir: Path


def _process(job: tuple[str, str, str, str, str, int]) -> tuple[str, str | None]:
    song, split, pop909_root, structure_root, shard_path, stride_bars = job
    try:
        record = song_arrays(load_song(Path(pop909_root), Path(structure_root), song), split, stride_bars)
    except AnnotationError as error:
        return song, str(error)
    if len(record["window_bars"]) == 0:
        return song, "shorter than one window"
    write_shard(Path(shard_path), record)
    return song, None


def _skip_reason_kind(reason: str) -> str:
    return reason.split(" (")[0]


def build_pop909(
    pop909_root: Path,
    structure_root: Path,
    split_file: Path,
    out_dir: Path,
    stride_bars: int = 1,
    songs: list[str] | None = None,
    workers: int = 2,
    progress: bool = True,
) -> BuildResult:
    """Build the POP909 window data set (see the module docstring); re-runs skip songs whose shard exists.

    Raises
    ------
    FileNotFoundError
        If an input folder or the split file is missing.
    ValueError
        If the split file is not ``{"train": [...], "valid": [...]}``.
    """
    started = time.perf_counter()
    for path in (pop909_root, structure_root):
        if not Path(path).is_dir():
            raise FileNotFoundError(f"folder not found: {path}")
    if not Path(split_file).is_file():
        raise FileNotFoundError(f"split file not found: {split_file}")
    try:
        split_ids = json.loads(Path(split_file).read_text())
        split_of = {str(song): name for name, ids in split_ids.items() for song in ids}
    except (json.JSONDecodeError, AttributeError, TypeError) as error:
        raise ValueError(f"{split_file}: not a JSON object of split name -> song ids") from error
    if stride_bars < 1:
        raise ValueError("stride must be at least one bar")
    all_songs = sorted(p.name for p in Path(pop909_root).iterdir() if p.is_dir() and p.name.isdigit())
    wanted = all_songs if songs is None else [s.zfill(3) for s in songs]
    unknown = sorted(set(wanted) - set(all_songs))
    if unknown:
        raise ValueError(f"no such POP909 song in {pop909_root}: {', '.join(unknown[:5])}"
                         + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
    shard_dir = Path(out_dir) / SHARD_DIR
    shard_dir.mkdir(parents=True, exist_ok=True)

    skips: dict[str, str] = {}
    jobs, reused = [], 0
    for song in wanted:
        if song not in split_of:
            skips[song] = "not in split file"
        elif (shard_dir / f"{song}.npz").is_file():
            reused += 1
        else:
            jobs.append((song, split_of[song], str(pop909_root), str(structure_root), str(shard_dir / f"{song}.npz"), stride_bars))
    bar = tqdm(total=len(jobs), desc="POP909 songs", unit="song", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        with Pool(workers) as pool:
            for song, reason in pool.imap_unordered(_process, jobs, chunksize=4):
                if reason:
                    skips[song] = reason
                bar.update()
    else:
        for job in jobs:
            song, reason = _process(job)
            if reason:
                skips[song] = reason
            bar.update()
    bar.close()
    for song, reason in sorted(skips.items()):
        logger.info("skipped song %s: %s", song, reason)

    lines, windows = [], Counter()
    kept = [s for s in wanted if s not in skips and (shard_dir / f"{s}.npz").is_file()]
    for song in kept:
        with np.load(shard_dir / f"{song}.npz") as data:
            bars, split = data["window_bars"], str(data["split"])
        windows[split] += len(bars)
        shard = f"{SHARD_DIR}/{song}.npz"
        lines.extend(json.dumps({"song": song, "bar": int(b), "split": split, "shard": shard}) for b in bars)
    manifest = "".join(line + "\n" for line in lines).encode()
    _atomic_write_bytes(Path(out_dir) / MANIFEST, lambda stream: stream.write(manifest))
    summary = {
        "songs": len(kept),
        "songs_reused": reused,
        "songs_per_split": dict(Counter(split_of[s] for s in kept)),
        "windows": int(sum(windows.values())),
        "windows_per_split": dict(windows),
        "skipped": len(skips),
        "skips_by_reason": dict(Counter(_skip_reason_kind(r) for r in skips.values())),
        "skipped_songs": dict(sorted(skips.items())),
        "stride_bars": stride_bars,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    text = json.dumps(summary, indent=2).encode()
    _atomic_write_bytes(Path(out_dir) / SUMMARY, lambda stream: stream.write(text))
    return BuildResult(summary=summary, out_dir=Path(out_dir))


class WindowStore:
    """Random access to the windows of a built data set; all shards are held in memory in compact form.

    Parameters
    ----------
    root:
        The folder ``build_pop909`` wrote.
    split:
        Keep only windows of this split (``"train"``, ``"valid"``); ``None`` keeps all.
    """

    def __init__(self, root: Path, split: str | None = None) -> None:
        root = Path(root)
        manifest = root / MANIFEST
        if not manifest.is_file():
            raise FileNotFoundError(f"no {MANIFEST} in {root}: build the data set with `diffbgm data pop909`")
        self.root = root
        self.split = split
        entries = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
        if split is not None:
            entries = [e for e in entries if e["split"] == split]
        self._records: dict[str, dict[str, np.ndarray]] = {}
        for entry in entries:
            if entry["song"] not in self._records:
                self._records[entry["song"]] = load_shard(root / entry["shard"])
        self._index = [(e["song"], int(e["bar"]), e["split"]) for e in entries]

    @property
    def songs(self) -> list[str]:
        """Song ids with at least one window."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, index: int) -> MusicWindow:
        song, bar, split = self._index[index]
        record = self._records[song]
        roll, chords, attributes = render_window(record, bar)
        return MusicWindow(
            song=song,
            bar=bar,
            split=split,
            pianoroll=roll,
            chords=chords,
            attributes={name: attributes[:, i].copy() for i, name in enumerate(ATTRIBUTE_NAMES)},
            key_tonic=int(record["key_tonic"]),
            key_mode=str(record["key_mode"]),
            tempo_bpm=float(record["tempo_bpm"]),
        )
