"""Tests of piano roll + timing plan -> MIDI."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_a_pickup_starts_the_file_at_0_s_with_a_short_first_bar():
    plan = plan_timing(24.02, [3.754, 8.759])  # the first cut comes too early for whole bars from 0 s
    assert plan.start_beat > 0 and plan.downbeats_s[0] < 0.0
    n_steps = plan.n_beats * 4
    notes = [Note(60 + beat % 12, beat * 4, 2) for beat in range(plan.n_beats)]
    held = Note(40, 0, 4 * plan.start_beat + 4)  # struck on the bar line before 0 s, still sounding after it
    pm = render_midi(PianoRoll.from_notes(notes + [held], n_steps=n_steps), plan)
    played = sorted(pm.instruments[0].notes, key=lambda n: (n.start, n.pitch))
    # Short notes struck before 0 s are not heard, the held one sounds from 0 s; the others sit on their beats.
    assert (played[0].pitch, played[0].start) == (40, 0.0)
    assert played[0].end == pytest.approx(plan.beats_s[plan.start_beat + 1], abs=2e-3)
    played = played[1:]
    assert len(played) == plan.n_beats - plan.start_beat
    np.testing.assert_allclose([n.start for n in played], plan.beats_s[plan.start_beat:-1], atol=2e-3)
    signatures = [(s.numerator, round(s.time, 3)) for s in pm.time_signature_changes]
    pickup = 4 - plan.start_beat
    assert signatures == [(pickup, 0.0), (4, round(plan.heard_downbeats_s[0], 3))]
    # A DAW's bar lines are the plan's: the cuts fall on them.
    downbeats = pm.get_downbeats()
    np.testing.assert_allclose(downbeats, plan.daw_bar_lines_s[:len(downbeats)], atol=2e-3)
    assert plan.daw_bar_lines_s[0] == 0.0 and len(plan.daw_bar_lines_s) == len(plan.heard_downbeats_s) + 1
    np.testing.assert_allclose(downbeats[1:len(plan.heard_downbeats_s) - 1], plan.heard_downbeats_s[:-2], atol=2e-3)
    for cut in plan.cuts_s:
        assert np.abs(downbeats - cut).min() < 2e-3


def test_short_bars_become_time_signatures_and_the_daws_bar_lines_are_the_plans():
    plan = plan_timing(16.0, [2.0, 4.0, 7.0, 9.0, 12.0, 14.0])  # two 3-s shots at 120 BPM: 4/4 + 2/4
    assert 2 in plan.bar_beats
    roll = PianoRoll.from_notes([Note(60, beat * 4, 2) for beat in range(plan.n_beats)], n_steps=plan.n_beats * 4)
    pm = render_midi(roll, plan)
    signatures = [(s.numerator, round(s.time, 3)) for s in pm.time_signature_changes]
    expected = [(count, round(float(plan.beats_s[beat]), 3)) for beat, count in plan.meter_changes]
    assert signatures == expected
    np.testing.assert_allclose(pm.get_downbeats(), plan.downbeats_s[:-1], atol=2e-3)
