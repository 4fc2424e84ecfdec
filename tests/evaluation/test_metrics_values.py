import math

import numpy as np
import pretty_midi
import pytest
from click.testing import CliRunner

from diffbgm.cli import cli
from diffbgm.evaluation.metrics import (
    BeatNotes,
    empty_bar_ratio,
    grooving_pattern_similarity,
    in_key_ratio,
    notes_per_bar,
    pitch_class_entropy,
    polyphony,
    structureness_indicator,
)


def beat_notes(rows):
    pitch, start, end = zip(*rows)
    return BeatNotes(np.array(pitch), np.array(start, float), np.array(end, float))


def test_pche_hand_computed():
    # Window 1: C, E, G, C -> p = (1/2, 1/4, 1/4): 1.5 bits. Window 2 (beat 32+): one pitch class: 0 bits.
    notes = beat_notes([(60, 0, 1), (64, 1, 2), (67, 2, 3), (72, 3, 4), (62, 32, 33), (74, 33, 34)])
    assert pitch_class_entropy(notes) == pytest.approx((1.5 + 0.0) / 2)


def test_gps_hand_computed():
    # Bar patterns (16 positions): A = {0, 8}, B = {0, 8}, C = {0, 4}; empty bar 3 ignored.
    notes = beat_notes([(60, 0, 1), (60, 2, 3), (60, 4, 5), (60, 6, 7), (60, 8, 9), (60, 9, 10), (60, 16, 17)])
    # pairs: AB xor 0 -> 1; AC xor 2 -> 14/16; BC -> 14/16; C vs the bar at beat 16 ({0}): patterns A,B,C,D={0}
    # AD xor 1, BD xor 1, CD xor 1 -> 15/16 each. Mean of 6 pairs.
    expected = (1 + 14 / 16 + 14 / 16 + 3 * 15 / 16) / 6
    assert grooving_pattern_similarity(notes) == pytest.approx(expected)
    assert empty_bar_ratio(notes) == pytest.approx(1 / 5)
    assert notes_per_bar(notes) == pytest.approx(7 / 5)
    assert math.isnan(grooving_pattern_similarity(beat_notes([(60, 0, 1)])))


def test_polyphony_and_in_key():
    notes = beat_notes([(60, 0, 1), (64, 0, 0.5), (67, 2, 3)])
    # Sounding steps: 0,1 -> 2 notes; 2,3 -> 1; 8..11 -> 1: mean (2+2+1+1+4*1)/8
    assert polyphony(notes) == pytest.approx(10 / 8)
    c_major = beat_notes([(p, i, i + 1) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 60, 67, 64, 61])])
    assert in_key_ratio(c_major) == pytest.approx(11 / 12)


def test_si_prefers_repetition():
    motif = [(60, 0, 2), (64, 2, 4), (67, 4, 8), (65, 8, 12), (62, 12, 16)]
    repeated = beat_notes([(p, s + 16 * r, e + 16 * r) for r in range(4) for p, s, e in motif])
    rng = np.random.default_rng(0)
    random = beat_notes([(int(p), 4 * i, 4 * i + 4) for i, p in enumerate(rng.integers(48, 84, 16))])
    assert structureness_indicator(repeated) > structureness_indicator(random)
    assert 0 <= structureness_indicator(random) <= 1


def test_evaluate_cli_and_bad_input(tmp_path):
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(0)
    piano.notes = [pretty_midi.Note(90, 60 + i % 5, i * 0.5, i * 0.5 + 0.4) for i in range(32)]
    pm.instruments.append(piano)
    pm.write(str(tmp_path / "a.mid"))
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", str(tmp_path), "--json", str(tmp_path / "r.json"), "--reference", str(tmp_path / "a.mid")])
    assert result.exit_code == 0, result.output
    import json

    data = json.loads((tmp_path / "r.json").read_text())
    assert data["n_files"] == 1 and data["difference"]["pche"] == 0 and {"pche", "gps", "si"} <= set(data)
    (tmp_path / "bad.mid").write_text("not midi")
    empty = tmp_path / "empty.mid"
    pretty_midi.PrettyMIDI().write(str(empty))
    for args in ([str(tmp_path / "missing")], [str(tmp_path / "bad.mid")], [str(empty)]):
        result = runner.invoke(cli, ["evaluate", *args, "--json", str(tmp_path / "x.json")])
        assert result.exit_code == 1 and "Error" in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x.json").exists()
    # The results never replace an input (also through a link), nor go into a folder.
    before = (tmp_path / "a.mid").read_bytes()
    (tmp_path / "link.mid").symlink_to(tmp_path / "a.mid")
    for target in (tmp_path / "a.mid", tmp_path / "link.mid", tmp_path):
        result = runner.invoke(cli, ["evaluate", str(tmp_path / "a.mid"), "--json", str(target)])
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    assert (tmp_path / "a.mid").read_bytes() == before
