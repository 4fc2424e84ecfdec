import numpy as np
import pretty_midi
import pytest

from diffbgm.music.chords import chord_vector, parse_chord, transpose_chords
from diffbgm.music.key import Key
from diffbgm.music.midi import midi_to_notes, midi_to_pianoroll, notes_to_midi, pianoroll_to_midi
from diffbgm.music.notes import Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.music.tempo import TempoMap

NOTES = [Note(60, 0, 4, 90), Note(64, 0, 2, 70), Note(60, 4, 1, 100), Note(67, 6, 10, 50), Note(72, 17, 3, 127)]


def test_pianoroll_round_trip_keeps_notes_and_velocities():
    roll = PianoRoll.from_notes(NOTES)
    assert roll.n_steps == 20
    assert roll.onset[4, 60] and not roll.sustain[4, 60]  # a repeated pitch keeps its own onset
    assert roll.to_notes() == sorted(NOTES, key=lambda n: (n.start, n.pitch))
    array = roll.to_array()
    assert array.shape == (2, 20, 128) and array.dtype == np.float32
    binary = PianoRoll.from_array(array).to_notes()
    assert [(n.pitch, n.start, n.duration) for n in binary] == [(n.pitch, n.start, n.duration) for n in roll.to_notes()]


def test_tempo_map_beats_and_seconds():
    tempo = TempoMap.from_segments([(4, 120), (4, 60)], start_s=1.0)
    assert tempo.time_of_beat(4) == pytest.approx(3.0)
    assert tempo.time_of_beat(6) == pytest.approx(5.0)
    assert tempo.beat_of_time(np.array([1.0, 2.0, 5.0])) == pytest.approx([0, 2, 6])
    assert tempo.bpm_at_beat(5.5) == pytest.approx(60)
    assert tempo.time_of_beat(-1) == pytest.approx(0.5)  # extrapolated with the first interval
    assert TempoMap.constant(90).beat_of_time(2.0) == pytest.approx(3.0)


@pytest.mark.parametrize("tempo", [TempoMap.constant(96), TempoMap.from_segments([(5, 120), (3, 75), (20, 140)], start_s=0.5)])
def test_midi_round_trip_keeps_notes_and_tempo(tmp_path, tempo):
    path = tmp_path / "song.mid"
    notes_to_midi(NOTES, tempo).write(str(path))
    assert midi_to_notes(path, tempo) == sorted(NOTES, key=lambda n: (n.start, n.pitch))
    # The file's tempo events (read back by pretty_midi) are the map's: same change times and tempi.
    read = pretty_midi.PrettyMIDI(str(path))
    times, bpms = read.get_tempo_changes()
    if tempo.start_s > 0:  # one-bar lead-in before beat 0
        times, bpms = times[1:], bpms[1:]
    changes = tempo.tempo_changes(6)
    assert times == pytest.approx(tempo.time_of_beat(np.array([b for b, _ in changes], dtype=float)), abs=1e-4)
    assert bpms == pytest.approx([60e6 / us for _, us in changes], rel=1e-4)
    starts = sorted(n.start for inst in read.instruments for n in inst.notes)
    assert starts == pytest.approx(sorted(tempo.time_of_beat(np.array([n.start / 4 for n in NOTES]))), abs=1e-3)


def test_constant_tempo_file_reads_back_on_its_own_beats(tmp_path):
    path = tmp_path / "song.mid"
    pianoroll_to_midi(PianoRoll.from_notes(NOTES), TempoMap.constant(100)).write(str(path))
    assert midi_to_pianoroll(path).to_notes() == PianoRoll.from_notes(NOTES).to_notes()


def test_chord_parsing():
    assert parse_chord("B:maj") == (11, (3, 6, 11), 11)
    assert parse_chord("C#:min7") == (1, (1, 4, 8, 11), 1)
    assert parse_chord("D:maj/5") == (2, (2, 6, 9), 9)
    assert parse_chord("N") is None and not chord_vector("N").any()
    vector = chord_vector("A:min/b3")
    assert vector[9] == 1 and vector[24 + 0] == 1 and vector[12:24].sum() == 3
    assert np.array_equal(transpose_chords(chord_vector("B:maj"), 2), chord_vector("C#:maj"))


def test_key_names_round_trip_and_scales():
    for tonic in range(12):
        for mode in ("major", "minor"):
            key = Key(tonic, mode)
            assert Key.parse(str(key)) == key
    assert Key.parse("a minor") == Key(9, "minor") and Key.parse("F# major") == Key.parse("Gb major")
    assert Key.parse("A minor").scale == Key.parse("C major").scale == frozenset({0, 2, 4, 5, 7, 9, 11})
    assert Key.parse("D major").scale == frozenset({2, 4, 6, 7, 9, 11, 1})
    mask = Key.parse("C major").pitch_mask()
    assert mask.shape == (128,) and mask.sum() == 75  # 10 full octaves of 7, then C..G of the 11th
    assert mask[60] and not mask[61] and mask[127]


@pytest.mark.parametrize("name", ["H major", "", "C dorian"])
def test_key_rejects_unknown_names(name):
    with pytest.raises(ValueError, match="unknown key"):
        Key.parse(name)
