"""Metrics over sets of MIDI files: each file on its own beat grid, then the mean per metric."""

from __future__ import annotations

import logging
import math
from os import PathLike
from pathlib import Path

import numpy as np

from diffbgm.evaluation.metrics import BeatNotes, all_metrics
from diffbgm.music.midi import MidiReadError, file_tempo_map, load_midi

logger = logging.getLogger(__name__)

MIDI_SUFFIXES = (".mid", ".midi")


class EvaluationInputError(ValueError):
    """A path that is missing, holds no MIDI files, or a file that cannot be read."""


def find_midi_files(paths: list[str | PathLike]) -> list[Path]:
    """MIDI files named directly or found (recursively) in folders, sorted per argument."""
    files = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
            if not found:
                raise EvaluationInputError(f"{path}: no MIDI files in this folder")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise EvaluationInputError(f"{path}: no such file or folder")
    return files


def beat_notes_of_midi(path: str | PathLike) -> BeatNotes:
    """All non-drum notes of a MIDI file, timed in beats of the file's own beat grid."""
    try:
        pm = load_midi(path)
    except MidiReadError as error:
        raise EvaluationInputError(str(error)) from error
    notes = [n for inst in pm.instruments if not inst.is_drum for n in inst.notes]
    if not notes:
        raise EvaluationInputError(f"{path}: the MIDI file has no notes")
    grid = file_tempo_map(pm)
    starts = grid.beat_of_time(np.array([n.start for n in notes]))
    ends = grid.beat_of_time(np.array([n.end for n in notes]))
    return BeatNotes(pitch=np.array([n.pitch for n in notes]), start=np.maximum(starts, 0.0), end=np.maximum(ends, 0.0))


def evaluate_files(files: list[Path], gps_positions: int = 16) -> dict:
    """Per-file metrics and their means (NaN values, e.g. GPS of a one-bar piece, are left out of a mean).

    Returns
    -------
    dict
        ``n_files``, one key per metric (the mean) and ``files``: {path: {metric: value}}.
    """
    per_file = {str(f): all_metrics(beat_notes_of_midi(f), gps_positions) for f in files}
    names = next(iter(per_file.values())).keys() if per_file else []
    result: dict = {"n_files": len(files)}
    for name in names:
        values = [m[name] for m in per_file.values() if not math.isnan(m[name])]
        result[name] = float(np.mean(values)) if values else float("nan")
    result["files"] = per_file
    return result
