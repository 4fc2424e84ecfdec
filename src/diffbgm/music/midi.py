"""MIDI <-> notes on the beat grid, through pretty_midi (reading) and mido (writing real tempo events).

Reading quantises note on/off times to sixteenth steps of a beat grid: a given :class:`TempoMap` (e.g.
POP909's annotated beats) or the file's own beats (``PrettyMIDI.get_beats()``). Writing puts every note on
exact ticks and encodes the tempo map as ``set_tempo`` events, so a DAW opens the file at the right tempo
and bar lines, also when the tempo changes.
"""

from __future__ import annotations

import io
import logging
from os import PathLike

import mido
import numpy as np
import pretty_midi

from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from diffbgm.music.notes import Note, sort_notes
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.music.tempo import TempoMap

logger = logging.getLogger(__name__)

TICKS_PER_BEAT = 480
TICKS_PER_STEP = TICKS_PER_BEAT // STEPS_PER_BEAT
_MAX_MICROS_PER_BEAT = 0xFFFFFF  # set_tempo is a 24-bit field


class MidiReadError(ValueError):
    """A file that is not a readable MIDI file."""


def load_midi(path_or_pm: str | PathLike | pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI object from a path (or the object itself); unreadable files raise :class:`MidiReadError`."""
    if isinstance(path_or_pm, pretty_midi.PrettyMIDI):
        return path_or_pm
    try:
        return pretty_midi.PrettyMIDI(str(path_or_pm))
    except Exception as error:  # pretty_midi/mido raise many types (OSError, EOFError, KeyError, ValueError)
        raise MidiReadError(f"{path_or_pm}: not a readable MIDI file ({type(error).__name__}: {error})") from error


def file_tempo_map(pm: pretty_midi.PrettyMIDI) -> TempoMap:
    """The file's own beat grid (from its tempo and time-signature events)."""
    end = max(pm.get_end_time(), 1.0)
    beats = pm.get_beats()
    if len(beats) < 2:
        return TempoMap.constant(pm.estimate_tempo() if pm.instruments else 120.0, start_s=float(beats[0]) if len(beats) else 0.0)
    return TempoMap.from_beat_times(beats[beats <= end + 60.0] if np.sum(beats <= end + 60.0) >= 2 else beats)


def _select_instruments(pm: pretty_midi.PrettyMIDI, tracks: list[str | int] | None) -> list[pretty_midi.Instrument]:
    instruments = [inst for inst in pm.instruments if not inst.is_drum]
    if tracks is None:
        return instruments
    wanted = {t.upper() if isinstance(t, str) else t for t in tracks}
    return [inst for i, inst in enumerate(pm.instruments) if not inst.is_drum and (i in wanted or inst.name.upper() in wanted)]


def midi_to_notes(
    path_or_pm: str | PathLike | pretty_midi.PrettyMIDI,
    tempo_map: TempoMap | None = None,
    tracks: list[str | int] | None = None,
) -> list[Note]:
    """Notes of a MIDI file on the sixteenth grid of ``tempo_map`` (default: the file's own beats).

    Parameters
    ----------
    path_or_pm:
        MIDI path or PrettyMIDI object.
    tempo_map:
        Beat grid to quantise to; step 0 is its beat 0.
    tracks:
        Instrument names (case-insensitive) or indices to keep; default all non-drum instruments.

    Returns
    -------
    list[Note]
        Sorted notes; onsets before beat 0 are dropped, durations are at least one step.
    """
    pm = load_midi(path_or_pm)
    grid = tempo_map if tempo_map is not None else file_tempo_map(pm)
    notes = []
    for inst in _select_instruments(pm, tracks):
        if not inst.notes:
            continue
        starts = np.array([n.start for n in inst.notes])
        ends = np.array([n.end for n in inst.notes])
        start_steps = np.round(grid.beat_of_time(starts) * STEPS_PER_BEAT).astype(int)
        end_steps = np.round(grid.beat_of_time(ends) * STEPS_PER_BEAT).astype(int)
        for note, s, e in zip(inst.notes, start_steps.tolist(), end_steps.tolist()):
            if s < 0:
                continue
            notes.append(Note(pitch=int(note.pitch), start=s, duration=max(1, e - s), velocity=int(note.velocity)))
    return sort_notes(notes)


def midi_to_pianoroll(
    path_or_pm: str | PathLike | pretty_midi.PrettyMIDI,
    tempo_map: TempoMap | None = None,
    tracks: list[str | int] | None = None,
    n_steps: int | None = None,
) -> PianoRoll:
    """:func:`midi_to_notes` rendered as a :class:`PianoRoll` (velocities kept)."""
    return PianoRoll.from_notes(midi_to_notes(path_or_pm, tempo_map, tracks), n_steps=n_steps)


def _start_beat(tempo_map: TempoMap) -> int:
    """The whole beat at 0 s when beat 0 (the first bar line) lies before it (the music starts with a
    pickup of the first bar's last beats), else 0."""
    if tempo_map.start_s > -1e-6:
        return 0
    beat = float(tempo_map.beat_of_time(0.0))
    if abs(beat - round(beat)) > 1e-6 or not 0 < round(beat) < BEATS_PER_BAR:
        raise ValueError(f"beat 0 lies {-tempo_map.start_s:.3f} s before 0 s: only a pickup of whole beats "
                         f"inside the first bar can be written (0 s is beat {beat:.3f})")
    return int(round(beat))


def _from_start_beat(tracks: list[tuple[str, int, list[Note]]], tempo_map: TempoMap,
                     start_beat: int) -> tuple[list[tuple[str, int, list[Note]]], TempoMap]:
    """The tracks and tempo map renumbered from the beat at 0 s; a note struck before it that still
    sounds there starts at 0 s (the music sounds from the first frame), the others are not heard."""
    shift = start_beat * STEPS_PER_BEAT
    heard = [(name, program, [Note(n.pitch, max(n.start, shift) - shift, n.end - max(n.start, shift), n.velocity)
                              for n in notes if n.end > shift])
             for name, program, notes in tracks]
    beats = np.arange(start_beat, max(tempo_map.n_beats, start_beat + 2), dtype=np.float64)
    return heard, TempoMap(tempo_map.time_of_beat(beats))


def _lead_in_beats(tempo_map: TempoMap) -> tuple[int, int]:
    """MIDI tick 0 is 0 s; when beat 0 comes later, a one-bar lead-in keeps the DAW's bar lines on the music's."""
    start = tempo_map.start_s
    if start < 1e-6:
        return 0, 0
    micros = int(round(start * 1e6 / BEATS_PER_BAR))
    if micros > _MAX_MICROS_PER_BEAT:
        raise ValueError(f"beat 0 at {start:.1f} s is too late for a one-bar MIDI lead-in")
    return BEATS_PER_BAR, micros


def _time_signatures(meter: list[tuple[int, int]], start_beat: int) -> list[tuple[int, int]]:
    """``(beat, beats per bar)`` of every time signature, counted from the beat at 0 s: a pickup's
    first bar holds only its beats from 0 s on."""
    if not start_beat:
        return list(meter)
    first = meter[0][1]
    later = [(beat - start_beat, count) for beat, count in meter[1:]]
    if not later or later[0][0] != first - start_beat:
        later.insert(0, (first - start_beat, first))
    return [(0, first - start_beat)] + later


def tracks_to_midi(tracks: list[tuple[str, int, list[Note]]], tempo_map: TempoMap,
                   meter: list[tuple[int, int]] | None = None) -> pretty_midi.PrettyMIDI:
    """Several named tracks ``(name, program, notes)`` -> PrettyMIDI with the tempo map as tempo events.

    ``meter``: ``(beat, beats per bar)`` at beat 0 and wherever the bar length changes (a time
    signature event each, in quarter notes); ``None``: 4/4 throughout. MIDI tick 0 is 0 s. When beat 0
    lies before 0 s (the music starts with a pickup), the file starts at the beat at 0 s with a short
    first bar (a time signature of the beats it holds), as a score writes an anacrusis; the notes
    struck before 0 s and still sounding start at 0 s.
    """
    meter = [(0, BEATS_PER_BAR)] if not meter else meter
    start_beat = _start_beat(tempo_map)
    if start_beat:
        tracks, tempo_map = _from_start_beat(tracks, tempo_map, start_beat)
    n_beats = max((n.end for _, _, notes in tracks for n in notes), default=STEPS_PER_BEAT) // STEPS_PER_BEAT + 1
    lead_beats, lead_micros = _lead_in_beats(tempo_map)
    offset = lead_beats * TICKS_PER_BEAT
    conductor = [(offset * bool(beat) + beat * TICKS_PER_BEAT,
                  mido.MetaMessage("time_signature", numerator=count, denominator=4, time=0))
                 for beat, count in _time_signatures(meter, start_beat)]
    if lead_beats:
        conductor.append((0, mido.MetaMessage("set_tempo", tempo=lead_micros, time=0)))
    for beat, micros in tempo_map.tempo_changes(n_beats):
        conductor.append((offset + beat * TICKS_PER_BEAT, mido.MetaMessage("set_tempo", tempo=micros, time=0)))
    midi_file = mido.MidiFile(type=1, ticks_per_beat=TICKS_PER_BEAT)
    midi_file.tracks.append(_to_track(conductor))
    for channel, (name, program, notes) in enumerate(tracks):
        channel = channel if channel < 9 else channel + 1  # skip the GM drum channel
        events = [(0, mido.MetaMessage("track_name", name=name, time=0)),
                  (0, mido.Message("program_change", program=program, channel=channel, time=0))]
        for note in notes:
            events.append((offset + note.start * TICKS_PER_STEP,
                           mido.Message("note_on", note=note.pitch, velocity=note.velocity, channel=channel, time=0)))
            events.append((offset + note.end * TICKS_PER_STEP,
                           mido.Message("note_off", note=note.pitch, velocity=0, channel=channel, time=0)))
        midi_file.tracks.append(_to_track(events))
    buffer = io.BytesIO()
    midi_file.save(file=buffer)
    buffer.seek(0)
    return pretty_midi.PrettyMIDI(buffer)


def _to_track(events: list[tuple[int, mido.Message]]) -> mido.MidiTrack:
    # note_off before note_on at the same tick so a repeated pitch is not cut by its predecessor's end.
    order = {"note_off": 0}
    events = sorted(events, key=lambda e: (e[0], 0 if e[1].is_meta else 1 + order.get(e[1].type, 1)))
    track = mido.MidiTrack()
    now = 0
    for tick, message in events:
        track.append(message.copy(time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    return track


def notes_to_midi(notes: list[Note], tempo_map: TempoMap, program: int = 0, name: str = "PIANO") -> pretty_midi.PrettyMIDI:
    """One track of notes -> PrettyMIDI with real tempo events (``.write(path)`` to save)."""
    return tracks_to_midi([(name, program, sort_notes(notes))], tempo_map)


def pianoroll_to_midi(
    roll: PianoRoll | np.ndarray,
    tempo_map: TempoMap,
    program: int = 0,
    velocity: int | None = None,
) -> pretty_midi.PrettyMIDI:
    """A piano roll (or ``(2, T, 128)`` array) -> PrettyMIDI; ``velocity`` overrides the roll's velocities."""
    if not isinstance(roll, PianoRoll):
        roll = PianoRoll.from_array(roll)
    notes = roll.to_notes()
    if velocity is not None:
        notes = [Note(n.pitch, n.start, n.duration, int(velocity)) for n in notes]
    return notes_to_midi(notes, tempo_map, program=program)
