"""Readers for POP909 (Wang et al., ISMIR 2020) and its structure annotations (Dai, Zhang, Dannenberg 2020).

Layout: ``POP909/<id>/<id>.mid`` (tracks MELODY, BRIDGE, PIANO), ``beat_midi.txt``, ``chord_midi.txt``,
``key_audio.txt``; ``POP909-structure/<id>/human_label1.txt`` and ``melody.txt``.

``beat_midi.txt`` has one line per beat: ``time_s  flag2  flag4``. Looking at the 909 files, ``flag4`` is
1.0 on downbeats (bar starts) and ``flag2`` on every other beat (the half-bar); in 4/4 songs downbeats are
4 beats apart (with the odd irregular 2- or 6-beat bar) and ``flag2`` 2 beats apart, while triple-metre songs
have ``flag2`` 3 and ``flag4`` 6 beats apart.

The structure data re-aligned its bar lines (its README): bar 0 of ``human_label1.txt`` / ``melody.txt``
is not necessarily the MIDI's first downbeat. :func:`align_structure` finds the beat offset by matching
``melody.txt`` against the MIDI's MELODY track on the MIDI beat grid.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffbgm.music.chords import CHORD_DIM, chord_vector, pitch_class
from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from diffbgm.music.midi import load_midi, midi_to_notes
from diffbgm.music.notes import Note
from diffbgm.music.tempo import TempoMap

TRACKS = ("MELODY", "BRIDGE", "PIANO")


class AnnotationError(ValueError):
    """A song whose annotation files are missing or unusable (the data builder skips it with this reason)."""


@dataclass
class BeatGrid:
    """``beat_midi.txt``: beat times, downbeat and half-bar flags."""

    times: np.ndarray
    downbeat: np.ndarray
    half_bar: np.ndarray

    @property
    def tempo_map(self) -> TempoMap:
        return TempoMap.from_beat_times(self.times)

    def beats_per_bar(self) -> int:
        """The most common distance between downbeats (4 in a 4/4 song)."""
        gaps = np.diff(np.flatnonzero(self.downbeat))
        return Counter(gaps.tolist()).most_common(1)[0][0] if len(gaps) else 0

    def is_four_four(self) -> bool:
        """4/4: downbeats mostly 4 beats apart and half-bar marks mostly 2 apart (triple metre gives 6 and 3)."""
        half_gaps = np.diff(np.flatnonzero(self.half_bar))
        half = Counter(half_gaps.tolist()).most_common(1)[0][0] if len(half_gaps) else 0
        return self.beats_per_bar() == 4 and half == 2


@dataclass
class Phrase:
    """A phrase of ``human_label1.txt``: label letter (upper case melodic), first bar, number of bars."""

    label: str
    start_bar: int
    n_bars: int


def _require(path: Path) -> Path:
    if not path.is_file():
        raise AnnotationError(f"missing {path.name}")
    return path


def read_beats(song_dir: Path) -> BeatGrid:
    """Parse ``beat_midi.txt``."""
    path = _require(Path(song_dir) / "beat_midi.txt")
    try:
        table = np.loadtxt(path, ndmin=2)
    except ValueError as error:
        raise AnnotationError(f"unreadable beat_midi.txt ({error})") from error
    if table.shape[0] < 8 or table.shape[1] < 3 or np.any(np.diff(table[:, 0]) <= 0):
        raise AnnotationError("beat_midi.txt has too few or non-increasing beats")
    return BeatGrid(times=table[:, 0], downbeat=table[:, 2] > 0.5, half_bar=table[:, 1] > 0.5)


def read_chord_symbols(song_dir: Path) -> list[tuple[float, float, str]]:
    """``chord_midi.txt`` as ``(start_s, end_s, symbol)``."""
    rows = []
    for line in _require(Path(song_dir) / "chord_midi.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            rows.append((float(parts[0]), float(parts[1]), parts[2]))
    if not rows:
        raise AnnotationError("empty chord_midi.txt")
    return rows


def chords_per_beat(symbols: list[tuple[float, float, str]], tempo_map: TempoMap, n_beats: int) -> np.ndarray:
    """float32 ``(n_beats, 36)``: the chord sounding at the middle of each beat (zero where none)."""
    chords = np.zeros((n_beats, CHORD_DIM), dtype=np.float32)
    mids = tempo_map.time_of_beat(np.arange(n_beats) + 0.5)
    for start, end, symbol in symbols:
        vector = chord_vector(symbol)
        chords[(mids >= start) & (mids < end)] = vector
    return chords


def read_key(song_dir: Path) -> tuple[int, str]:
    """``key_audio.txt`` -> (tonic pitch class, ``"major"``/``"minor"``) of the longest-held key."""
    best = None
    for line in _require(Path(song_dir) / "key_audio.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 3 or ":" not in parts[2]:
            continue
        tonic, mode = parts[2].split(":", 1)
        length = float(parts[1]) - float(parts[0])
        if best is None or length > best[0]:
            best = (length, pitch_class(tonic), "minor" if mode.startswith("min") else "major")
    if best is None:
        raise AnnotationError("no key in key_audio.txt")
    return best[1], best[2]


_PHRASE_RE = re.compile(r"([A-Za-z])(\d+)")


def parse_phrases(text: str) -> list[Phrase]:
    """``"i4A4B8"`` -> phrases with their first bar."""
    text = text.strip()
    tokens = _PHRASE_RE.findall(text)
    if not tokens or "".join(a + b for a, b in tokens) != text:
        raise AnnotationError(f"cannot parse phrase string {text[:40]!r}")
    phrases, bar = [], 0
    for label, bars in tokens:
        phrases.append(Phrase(label=label, start_bar=bar, n_bars=int(bars)))
        bar += int(bars)
    return phrases


def read_phrases(structure_dir: Path) -> list[Phrase]:
    """``human_label1.txt`` of a POP909-structure song folder."""
    return parse_phrases(_require(Path(structure_dir) / "human_label1.txt").read_text())


def read_structure_melody(structure_dir: Path) -> list[Note]:
    """``melody.txt`` (pitch, duration in sixteenths; pitch 0 = rest) -> notes on the structure's grid."""
    notes, step = [], 0
    for line in _require(Path(structure_dir) / "melody.txt").read_text().splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        pitch, duration = int(parts[0]), int(parts[1])
        if pitch > 0:
            notes.append(Note(pitch=pitch, start=step, duration=duration))
        step += duration
    if not notes:
        raise AnnotationError("melody.txt has no notes")
    return notes


def melody_match(structure_melody: list[Note], midi_melody: list[Note], offset_beats: int) -> float:
    """Fraction of structure melody onsets found (same pitch, same step) in the MIDI melody shifted by ``offset_beats``."""
    midi_onsets = {(n.start, n.pitch) for n in midi_melody}
    shift = offset_beats * STEPS_PER_BEAT
    hits = sum((n.start + shift, n.pitch) in midi_onsets for n in structure_melody)
    return hits / len(structure_melody)


def align_structure(structure_melody: list[Note], midi_melody: list[Note], max_offset_beats: int = 64) -> tuple[int, float]:
    """One global beat offset of the structure's bar 0 on the MIDI beat grid, and its melody match.

    Tries every offset in ``[-max_offset_beats, max_offset_beats]`` and keeps the one whose shifted
    structure melody matches the MIDI melody onsets best.
    """
    scores = [(melody_match(structure_melody, midi_melody, k), k) for k in range(-max_offset_beats, max_offset_beats + 1)]
    best_score, best_offset = max(scores)
    return best_offset, best_score


def _bar_hits(structure_melody: list[Note], midi_melody: list[Note], offsets: np.ndarray, n_bars: int) -> np.ndarray:
    """``(n_bars, len(offsets))``: structure melody onsets of each bar found in the MIDI at each offset."""
    n_steps = max(n.start for n in midi_melody) + 1
    midi_pitch = np.full(n_steps, -1)
    for n in midi_melody:
        midi_pitch[n.start] = max(midi_pitch[n.start], n.pitch)
    # Several MIDI melody notes can start together (rare); the highest one stands for the step.
    starts = np.array([n.start for n in structure_melody])
    pitches = np.array([n.pitch for n in structure_melody])
    bars = np.minimum(starts // (BEATS_PER_BAR * STEPS_PER_BEAT), n_bars - 1)
    hits = np.zeros((n_bars, len(offsets)))
    for j, k in enumerate(offsets):
        target = starts + k * STEPS_PER_BEAT
        valid = (target >= 0) & (target < n_steps)
        matched = np.zeros(len(starts), dtype=bool)
        matched[valid] = midi_pitch[target[valid]] == pitches[valid]
        np.add.at(hits[:, j], bars, matched)
    return hits


def align_structure_bars(
    structure_melody: list[Note],
    midi_melody: list[Note],
    n_bars: int,
    max_offset_beats: int = 64,
    change_penalty: float = 3.0,
) -> tuple[np.ndarray, float]:
    """Per-bar beat offsets of the structure grid on the MIDI beat grid, and the overall melody match.

    The structure data dropped stray beats (irregular bars) from the original MIDI, so the offset can
    grow during a song. A Viterbi path over bars picks, for every structure bar, the offset whose shifted
    melody matches the MIDI melody onsets, paying ``change_penalty`` matched notes for every change.

    Returns
    -------
    offsets:
        int ``(n_bars,)``: MIDI beat of structure bar ``b`` is ``4 * b + offsets[b]``.
    match:
        Fraction of structure melody onsets that land on a MIDI melody onset of the same pitch.
    """
    candidates = np.arange(-max_offset_beats, max_offset_beats + 1)
    hits = _bar_hits(structure_melody, midi_melody, candidates, n_bars)
    n_cand = len(candidates)
    change = change_penalty * (1 - np.eye(n_cand))
    score = hits[0].copy()
    back = np.zeros((n_bars, n_cand), dtype=np.int64)
    for bar in range(1, n_bars):
        total = score[:, None] - change  # from offset i (rows) to offset j (columns)
        back[bar] = np.argmax(total, axis=0)
        score = total[back[bar], np.arange(n_cand)] + hits[bar]
    path = np.zeros(n_bars, dtype=np.int64)
    path[-1] = int(np.argmax(score))
    for bar in range(n_bars - 1, 0, -1):
        path[bar - 1] = back[bar, path[bar]]
    matched = hits[np.arange(n_bars), path].sum()
    return candidates[path], float(matched / len(structure_melody))


@dataclass
class Pop909Song:
    """One song: notes on the MIDI beat grid (step 0 = first annotated beat) and the structure's bar grid.

    Attributes
    ----------
    bar_offsets:
        int ``(n_bars,)``; structure bar ``b`` starts at MIDI beat ``4 * b + bar_offsets[b]``.
    chords:
        float32 ``(n_midi_beats, 36)`` per MIDI beat.
    """

    song: str
    notes: list[Note]
    tempo_map: TempoMap
    chords: np.ndarray
    key_tonic: int
    key_mode: str
    phrases: list[Phrase]
    bar_offsets: np.ndarray
    melody_match: float

    @property
    def n_bars(self) -> int:
        """Number of structure bars (the phrases' total)."""
        return len(self.bar_offsets)

    def beat_map(self) -> np.ndarray:
        """int ``(4 * n_bars,)``: the MIDI beat of every structure beat."""
        bars = np.repeat(np.arange(self.n_bars), BEATS_PER_BAR)
        return np.arange(len(bars)) + self.bar_offsets[bars]


def load_song(pop909_root: Path, structure_root: Path, song: str, min_melody_match: float = 0.5) -> Pop909Song:
    """Read and align one song; raises :class:`AnnotationError` with the reason to skip it."""
    song_dir = Path(pop909_root) / song
    structure_dir = Path(structure_root) / song
    if not song_dir.is_dir():
        raise AnnotationError("missing POP909 song folder")
    if not structure_dir.is_dir():
        raise AnnotationError("missing POP909-structure folder")
    beats = read_beats(song_dir)
    if not beats.is_four_four():
        raise AnnotationError(f"not in 4/4 ({beats.beats_per_bar()} beats per bar)")
    tempo_map = beats.tempo_map
    pm = load_midi(_require(song_dir / f"{song}.mid"))
    if "MELODY" not in {inst.name.upper() for inst in pm.instruments}:
        raise AnnotationError("no MELODY track")
    notes = midi_to_notes(pm, tempo_map)
    melody = midi_to_notes(pm, tempo_map, tracks=["MELODY"])
    if not melody:
        raise AnnotationError("empty MELODY track")
    phrases = read_phrases(structure_dir)
    n_bars = phrases[-1].start_bar + phrases[-1].n_bars
    offsets, match = align_structure_bars(read_structure_melody(structure_dir), melody, n_bars)
    if match < min_melody_match:
        raise AnnotationError(f"structure melody does not align with the MIDI (match {match:.2f})")
    key_tonic, key_mode = read_key(song_dir)
    return Pop909Song(
        song=song,
        notes=notes,
        tempo_map=tempo_map,
        chords=chords_per_beat(read_chord_symbols(song_dir), tempo_map, tempo_map.n_beats),
        key_tonic=key_tonic,
        key_mode=key_mode,
        phrases=phrases,
        bar_offsets=offsets,
        melody_match=match,
    )
