"""What the page draws, as plain JSON: a video's analysis on the timeline, and a take's notes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from diffbgm.video.record import VideoAnalysis

# The curves the timeline shows (features of the analysis, one value per analysis frame).
CURVES = ("motion", "brightness")
THUMBNAIL_QUALITY = 80


def analysis_view(analysis: VideoAnalysis, cuts_given: bool) -> dict:
    """The analysis as the timeline shows it: shots with caption and mood words, transitions, curves."""
    moods = list(analysis.shot_moods)
    shots = []
    for index, (start, end) in enumerate(analysis.shots):
        mood = moods[index] if index < len(moods) else None
        shots.append({
            "start_s": float(start), "end_s": float(end),
            "caption": analysis.shot_captions[index] if index < len(analysis.shot_captions) else "",
            "mood": mood.nearest_words(2) if mood is not None else [],
            "valence": None if mood is None else round(float(mood.valence), 3),
            "arousal": None if mood is None else round(float(mood.arousal), 3),
        })
    return {
        "duration_s": float(analysis.duration_s),
        "fps": float(analysis.fps),
        "width": int(analysis.width),
        "height": int(analysis.height),
        "cuts_s": [float(cut) for cut in analysis.cuts_s],
        "cuts_given": cuts_given,
        "shots": shots,
        "transitions": [transition.to_dict() for transition in analysis.transitions],
        "accents_s": [float(t) for t in analysis.accents_s],
        "frame_times": np.round(np.asarray(analysis.frame_times, dtype=float), 3).tolist(),
        "curves": {name: np.round(np.asarray(analysis.features[name], dtype=float), 3).tolist()
                   for name in CURVES if name in analysis.features},
        "thumbnail_times": np.round(np.asarray(analysis.thumbnail_times, dtype=float), 3).tolist(),
        "thumbnail_size": list(analysis.thumbnails.shape[2:0:-1]) if len(analysis.thumbnails) else [0, 0],
    }


def write_thumbnail_strip(analysis: VideoAnalysis, path: Path) -> Path | None:
    """The analysis' thumbnails side by side in one JPEG (the page cuts it up); ``None`` without any."""
    if not len(analysis.thumbnails):
        return None
    strip = np.concatenate(list(analysis.thumbnails), axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(path, quality=THUMBNAIL_QUALITY)
    return path


def notes_view(midi_path: Path, manifest: dict) -> dict:
    """A take's notes (start, end, pitch, velocity) and its downbeats, for the piano roll."""
    import pretty_midi

    midi = pretty_midi.PrettyMIDI(str(midi_path))
    notes = sorted((round(note.start, 3), round(note.end, 3), note.pitch, note.velocity)
                   for instrument in midi.instruments for note in instrument.notes)
    return {"notes": [list(note) for note in notes], "downbeats_s": [round(float(t), 3) for t in manifest.get("downbeats_s", []) if t > -1e-6]}
