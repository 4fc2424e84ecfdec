"""Synthesis in segments: each segment's notes and controller state, and a whole that sounds like
the piece rendered at once."""

from __future__ import annotations

import numpy as np
import pretty_midi

import diffbgm.render.segmented as segmented
from diffbgm.render.audio import SAMPLE_RATE, render_audio, synthesize
from diffbgm.render.segmented import TAIL_S, split_midi, synthesize_in_segments


def arpeggio(seconds: float, step_s: float = 0.25, length_s: float = 0.9) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI()
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(90, 48 + (k * 7) % 36, k * step_s, k * step_s + length_s)
                   for k in range(int(seconds / step_s))]
    piano.control_changes = [pretty_midi.ControlChange(7, 100, 0.0), pretty_midi.ControlChange(7, 80, 2.5)]
    pm.instruments.append(piano)
    return pm


def envelope(samples: np.ndarray, window: int = 2400) -> np.ndarray:
    n = len(samples) // window * window
    return np.sqrt((samples[:n] ** 2).reshape(-1, window, samples.shape[1]).mean(axis=(1, 2)))


def test_segments_hold_the_notes_that_start_in_them_and_the_controllers_as_they_stand():
    pm = arpeggio(5.0)
    parts = split_midi(pm, segment_s=2.0)
    assert [start for start, _ in parts] == [0.0, 2.0, 4.0]
    assert sum(len(part.instruments[0].notes) for _, part in parts) == len(pm.instruments[0].notes)
    start, third = parts[2]
    assert min(note.start for note in third.instruments[0].notes) == 0.0
    volumes = [(cc.time, cc.value) for cc in third.instruments[0].control_changes if cc.number == 7]
    assert volumes == [(0.0, 80)]  # set at 2.5 s, before the segment began
    last_end = max(note.end for note in third.instruments[0].notes)
    assert third.get_end_time() == last_end + TAIL_S


def test_a_piece_rendered_in_segments_sounds_like_it_rendered_at_once():
    pm = arpeggio(8.0)
    whole = synthesize(pm).samples
    pieces = synthesize_in_segments(pm, segment_s=2.0)
    assert pieces.is_pcm16 and pieces.n_frames == len(whole)
    # The chorus' modulation starts anew in each segment: the waveforms differ, their loudness does not.
    assert np.corrcoef(envelope(whole), envelope(pieces.samples))[0, 1] > 0.99
    first = 2 * SAMPLE_RATE
    assert np.array_equal(pieces.samples[:first], whole[:first])  # the first segment is the same rendering


def test_render_audio_never_synthesises_more_than_a_segment_at_once(monkeypatch):
    lengths = []

    def recording(pm, soundfont=None):
        lengths.append(pm.get_end_time())
        return synthesize(pm, soundfont)

    monkeypatch.setattr(segmented, "synthesize", recording)
    pm = arpeggio(6.0)
    audio = render_audio(pm, 6.5)
    assert audio.is_pcm16 and audio.n_frames == round(6.5 * SAMPLE_RATE)
    assert lengths and max(lengths) <= min(segmented.SEGMENT_S, 6.0) + 0.9 + TAIL_S
    monkeypatch.setattr(segmented, "SEGMENT_S", 2.0)
    lengths.clear()
    render_audio(pm, 6.5)
    assert len(lengths) == 3 and max(lengths) <= 2.0 + 0.9 + TAIL_S
