"""Tests of piano roll + timing plan -> MIDI."""

from __future__ import annotations

import numpy as np

from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.render.midi import render_midi, velocity_curve


def test_velocity_curve_maps_intensity_onto_range():
    np.testing.assert_array_equal(velocity_curve(np.array([0.0, 0.5, 1.0, 2.0])), [50, 75, 100, 100])


def test_notes_sit_on_the_plans_beats_with_video_velocities():
    plan = plan_timing(11.0, [4.0])  # two shots at different tempi
    assert len(set(np.round(plan.bar_bpm, 3))) >= 2  # the tempo ramps between the shots
    n_steps = plan.n_beats * 4
    notes = [Note(60 + (beat % 12), beat * 4, 2) for beat in range(plan.n_beats)] + [Note(90, n_steps + 4, 4)]
    roll = PianoRoll.from_notes(notes, n_steps=n_steps + 16)
    intensity = np.linspace(0.0, 1.0, plan.n_beats)
    pm = render_midi(roll, plan, intensity=intensity)
    played = sorted(pm.instruments[0].notes, key=lambda n: n.start)
    assert len(played) == plan.n_beats  # the note past the last bar is dropped
    np.testing.assert_allclose([n.start for n in played], plan.beats_s[:-1], atol=2e-3)
    np.testing.assert_array_equal([n.velocity for n in played], velocity_curve(intensity))
    _, tempi = pm.get_tempo_changes()
    assert len(tempi) >= 2


def test_named_rolls_become_tracks_and_a_fixed_tempo_starts_at_zero():
    plan = plan_timing(9.0, [2.9], TimingConfig(bpm=100.0))
    roll = PianoRoll.from_notes([Note(64, 0, 4)], n_steps=16)
    pm = render_midi([("MELODY", roll), ("PIANO", roll.to_array())], plan)
    assert [i.name for i in pm.instruments] == ["MELODY", "PIANO"]
    assert plan.beats_s[0] == 0.0  # no silent pickup before the first bar (it read as a bar at 274 BPM)
    assert abs(pm.instruments[0].notes[0].start - plan.beats_s[0]) < 2e-3
