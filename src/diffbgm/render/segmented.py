"""Synthesis of a long piece in segments, so that memory stays flat however long the video is.

midirenderer renders a whole MIDI file into memory at once and holds several copies of the whole
rendering while it works. Here the piece is cut into segments of ``segment_s`` seconds: each is
rendered alone (the notes that start in it, played to their end, plus a tail for their release
and the reverb), and added into one int16 buffer at its start time. Synthesis is linear in its
voices (notes sound independently, reverb and chorus are linear filters), so the sum of the
segments is the whole piece's rendering up to rounding and voice stealing.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pretty_midi

from diffbgm.render.audio import SAMPLE_RATE, Audio, synthesize

SEGMENT_S = 120.0
# Rendered after a segment's last note ends: a piano's release and the SoundFont's reverb.
TAIL_S = 3.0
# An undefined controller (General MIDI leaves 102-119 free): an event that changes no sound and
# keeps the synthesiser running for the tail.
_SILENT_CONTROLLER = 110
# 960 ticks per beat at 120 BPM: times within a quarter of a millisecond.
_RESOLUTION = 960


def split_midi(pm: pretty_midi.PrettyMIDI, segment_s: float = SEGMENT_S) -> list[tuple[float, pretty_midi.PrettyMIDI]]:
    """``(start_s, part)`` of each segment that holds a note: the notes that start in
    ``[start_s, start_s + segment_s)``, shifted to start at 0, with each instrument's controllers and
    pitch bend as they stand at ``start_s``, and a silent event ``TAIL_S`` after the last note ends."""
    end_s = pm.get_end_time()
    parts = []
    for start_s in np.arange(0.0, max(end_s, segment_s), segment_s):
        stop_s = start_s + segment_s
        part = pretty_midi.PrettyMIDI(resolution=_RESOLUTION, initial_tempo=120.0)
        last_end = 0.0
        for instrument in pm.instruments:
            notes = [note for note in instrument.notes if start_s <= note.start < stop_s]
            if not notes:
                continue
            piece = pretty_midi.Instrument(instrument.program, instrument.is_drum, instrument.name)
            piece.notes = [pretty_midi.Note(n.velocity, n.pitch, n.start - start_s, n.end - start_s) for n in notes]
            piece.control_changes = _events_from(instrument.control_changes, start_s, stop_s,
                                                 key=lambda event: event.number)
            piece.pitch_bends = _events_from(instrument.pitch_bends, start_s, stop_s, key=lambda event: 0)
            part.instruments.append(piece)
            last_end = max(last_end, max(n.end for n in piece.notes))
        if part.instruments:
            part.instruments[0].control_changes.append(
                pretty_midi.ControlChange(_SILENT_CONTROLLER, 0, last_end + TAIL_S))
            parts.append((float(start_s), part))
    return parts


def _events_from(events: list, start_s: float, stop_s: float, key) -> list:
    """The events of ``[start_s, stop_s)`` shifted to start at 0, after the last one of each ``key``
    before ``start_s`` (moved to 0: the state the segment begins in)."""
    standing = {}
    for event in sorted(events, key=lambda event: event.time):
        if event.time < start_s:
            standing[key(event)] = event
    shifted = []
    for event in list(standing.values()) + [e for e in events if start_s <= e.time < stop_s]:
        moved = copy.copy(event)
        moved.time = max(0.0, event.time - start_s)
        shifted.append(moved)
    return sorted(shifted, key=lambda event: event.time)


def synthesize_in_segments(pm: pretty_midi.PrettyMIDI, soundfont: str | Path | None = None,
                           min_frames: int = 0, segment_s: float | None = None) -> Audio:
    """The piece rendered segment by segment (see the module docstring) into one writable int16
    buffer, from time 0 to the MIDI's end and at least ``min_frames`` long (``segment_s`` None:
    :data:`SEGMENT_S`)."""
    rate = None
    out = None
    for start_s, part in split_midi(pm, SEGMENT_S if segment_s is None else segment_s):
        audio = synthesize(part, soundfont)
        if out is None:
            rate = audio.sample_rate
            out = np.zeros((max(min_frames, round(pm.get_end_time() * rate)), audio.channels), np.int16)
        first = round(start_s * rate)
        piece = audio.data[:max(0, len(out) - first)]
        region = out[first:first + len(piece)]
        region[:] = np.clip(region.astype(np.int32) + piece, -32768, 32767)
    if out is None:  # no notes at all
        return Audio(np.zeros((min_frames, 2), np.int16), SAMPLE_RATE)
    return Audio(out, rate)
