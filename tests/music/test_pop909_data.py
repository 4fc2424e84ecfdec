import json

import numpy as np
import pytest
from click.testing import CliRunner

from diffbgm.cli import cli
from diffbgm.music.augment import transpose_window
from diffbgm.music.dataset import WindowStore, build_pop909
from diffbgm.music.midi import midi_to_notes
from diffbgm.music.pop909 import align_structure_bars, load_song, read_beats, read_phrases, read_structure_melody
from diffbgm.music.window import ATTRIBUTE_NAMES

pytestmark = pytest.mark.data


@pytest.mark.parametrize("song", ["001", "005", "011", "023", "039"])
def test_structure_aligns_with_midi_melody(pop909_root, structure_root, song):
    beats = read_beats(pop909_root / song)
    melody = midi_to_notes(pop909_root / song / f"{song}.mid", beats.tempo_map, tracks=["MELODY"])
    structure = read_structure_melody(structure_root / song)
    phrases = read_phrases(structure_root / song)
    n_bars = phrases[-1].start_bar + phrases[-1].n_bars
    offsets, match = align_structure_bars(structure, melody, n_bars)
    assert match > 0.9
    _, wrong = align_structure_bars(structure, melody, n_bars, max_offset_beats=0) if offsets.min() > 0 else (None, 0.0)
    shifted = [n.__class__(n.pitch, n.start + 4, n.duration) for n in structure]
    _, off_by_a_beat = align_structure_bars(shifted, melody, n_bars, max_offset_beats=0)
    assert wrong < match - 0.3 or offsets.min() <= 0
    assert off_by_a_beat < match


def test_triple_metre_song_is_detected(pop909_root):
    assert not read_beats(pop909_root / "034").is_four_four()
    assert read_beats(pop909_root / "001").is_four_four()


def test_build_windows_and_read_them(tmp_path, pop909_root, structure_root, split_file):
    out = tmp_path / "ds"
    summary = build_pop909(pop909_root, structure_root, split_file, out, stride_bars=2, songs=["001", "034", "003"], workers=1, progress=False).summary
    assert summary["songs"] == 2 and summary["skips_by_reason"] == {"not in 4/4": 1}
    lines = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {line["song"] for line in lines} == {"001", "003"} and all(line["bar"] % 2 == 0 for line in lines)
    store = WindowStore(out)
    assert len(store) == len(lines) and set(store.songs) == {"001", "003"}
    song = load_song(pop909_root, structure_root, "001")
    first = next(i for i, line in enumerate(lines) if line["song"] == "001" and line["bar"] == 4)
    window = store[first]
    assert window.pianoroll.shape == (2, 128, 128) and window.chords.shape == (32, 36)
    assert set(window.attributes) == set(ATTRIBUTE_NAMES)
    assert window.attributes["phrase_boundary"][0] == 1.0  # bar 4 starts phrase A of "i4A4B8..."
    start_beat = int(song.beat_map()[16])
    expected = {(n.pitch, n.start - start_beat * 4) for n in song.notes if start_beat * 4 <= n.start < start_beat * 4 + 128}
    assert {(p, t) for t, p in zip(*np.nonzero(window.pianoroll[0]))} == expected
    in_window = [n for n in song.notes if start_beat * 4 <= n.start < start_beat * 4 + 128]
    assert window.attributes["onset_density"].sum() == len(in_window)  # all tracks, unison doubles included
    # A re-run skips finished songs.
    again = build_pop909(pop909_root, structure_root, split_file, out, stride_bars=2, songs=["001", "003"], workers=1, progress=False)
    assert again.summary["songs_reused"] == 2
    moved = transpose_window(window, 3)
    assert np.array_equal(moved.pianoroll[:, :, 3:], window.pianoroll[:, :, :-3])
    assert np.array_equal(np.roll(moved.chords[:, 12:24], -3, axis=1), window.chords[:, 12:24])
    assert np.array_equal(moved.attributes["onset_density"], window.attributes["onset_density"])


def test_cli_data_bad_input(tmp_path, pop909_root, structure_root, split_file):
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "pop909", "--pop909", str(tmp_path / "none"), "--structure", str(structure_root),
                                 "--split", str(split_file), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "folder not found" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "out").exists()
    # A song with a missing annotation file is skipped with its reason.
    broken = tmp_path / "POP909" / "001"
    broken.mkdir(parents=True)
    for name in ("001.mid", "beat_midi.txt", "key_audio.txt"):
        (broken / name).write_bytes((pop909_root / "001" / name).read_bytes())
    result = runner.invoke(cli, ["data", "pop909", "--pop909", str(tmp_path / "POP909"), "--structure", str(structure_root),
                                 "--split", str(split_file), "--out", str(tmp_path / "out"), "--workers", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["skipped_songs"] == {"001": "missing chord_midi.txt"} and summary["windows"] == 0
