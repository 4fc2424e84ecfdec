import json
import math
from functools import partial

import numpy as np
import pytest

from diffbgm.evaluation.adherence import onsets_per_beat
from diffbgm.music.pianoroll import beat_notes_from_pianoroll
from diffbgm.evaluation.baselines import density_matched_generator, ground_truth_generator, shuffled_generator
from diffbgm.evaluation.eval_windows import preceding_windows, select_eval_windows
from diffbgm.evaluation.model_eval import (
    PAPER_DIFF_BGM,
    comparison_table,
    evaluate_generator,
    window_adherence,
    window_music_metrics,
)
from diffbgm.music.grid import WINDOW_BARS, WINDOW_BEATS
from diffbgm.music.window import ATTRIBUTE_NAMES, MusicWindow

def _window(roll: np.ndarray, boundary_beats=(), density=None) -> MusicWindow:
    attributes = {name: np.zeros(WINDOW_BEATS, dtype=np.float32) for name in ATTRIBUTE_NAMES}
    attributes["phrase_boundary"][list(boundary_beats)] = 1.0
    attributes["onset_density"] = onsets_per_beat(roll[0]).astype(np.float32) if density is None else density
    chords = np.zeros((WINDOW_BEATS, 36), np.float32)
    return MusicWindow(song="000", bar=0, split="valid", pianoroll=roll, chords=chords, attributes=attributes)


def test_beat_notes_from_pianoroll_by_hand():
    roll = np.zeros((2, 16, 128), dtype=np.float32)
    roll[0, 0, 60] = 1
    roll[1, 1:4, 60] = 1  # C4 for one beat
    roll[0, 6, 67] = 1  # G4, one step, at beat 1.5
    notes = beat_notes_from_pianoroll(roll)
    assert notes.pitch.tolist() == [60, 67]
    assert notes.start.tolist() == [0.0, 1.5] and notes.end.tolist() == [1.0, 1.75]


def test_window_measures_by_hand():
    roll = np.zeros((2, 128, 128), dtype=np.float32)
    # Bar 0: C on every beat; bar 1 silent; bars 2-7: C on beat 0 only. Beat 8 (bar 2) is after silence.
    for beat in (0, 1, 2, 3, *range(8, 32, 4)):
        roll[0, 4 * beat, 60] = 1
    metrics = window_music_metrics(roll)
    assert metrics["notes_per_bar"] == pytest.approx(10 / 8)
    assert metrics["empty_bar_ratio"] == pytest.approx(1 / 8)
    assert metrics["pche"] == 0.0
    adherence = window_adherence(_window(roll, boundary_beats=(0, 1, 8)), roll)
    # Bar novelty is non-zero only at bar lines 1-3 (within two bars of the busy and the silent bar),
    # so beats 4, 8 and 12 are new starts. Beat 0 never counts; beat 1 is no bar line (a miss); beat 8
    # is a hit.
    assert (adherence["boundaries"], adherence["boundary_hits"]) == (2, 1)
    # The other downbeats 4, 12, 16, ..., 28: only 4 and 12 start something new.
    assert (adherence["off_boundary_beats"], adherence["off_boundary_starts"]) == (6, 2)
    assert adherence["density_correlation"] == pytest.approx(1.0)
    assert math.isnan(adherence["register_correlation"])  # no register requested (pitch_mean 0)


def test_window_register_correlation_reads_the_requested_mean_pitch():
    roll = np.zeros((2, 128, 128), dtype=np.float32)
    pitches = 48 + (np.arange(WINDOW_BEATS) * 7) % 30  # one note per beat, pitch going up and down
    roll[0, 4 * np.arange(WINDOW_BEATS), pitches] = 1
    window = _window(roll)
    window.attributes["pitch_mean"] = pitches.astype(np.float32)
    assert window_adherence(window, roll)["register_correlation"] == pytest.approx(1.0)
    window.attributes["pitch_mean"] = (120 - pitches).astype(np.float32)
    assert window_adherence(window, roll)["register_correlation"] == pytest.approx(-1.0)
    report = evaluate_generator([window, window], lambda batch: np.stack([roll] * len(batch)), ks=(1,))
    assert report.generated["register_correlation"] == pytest.approx(-1.0)
    assert "| register Spearman rho | -1.000 |" in report.to_table()


@pytest.mark.data
def test_select_eval_windows_spread_and_deterministic(valid_store, eval_windows, valid_songs):
    assert len(eval_windows) == 12
    assert {w.song for w in eval_windows} == set(valid_songs)
    assert all(w.split == "valid" for w in eval_windows)
    for song in valid_songs:
        bars = sorted(w.bar for w in eval_windows if w.song == song)
        assert len(bars) == 3 and all(b - a >= WINDOW_BARS for a, b in zip(bars, bars[1:]))
    again = select_eval_windows(valid_store, n=12, seed=0)
    assert [(w.song, w.bar) for w in again] == [(w.song, w.bar) for w in eval_windows]
    other = select_eval_windows(valid_store, n=12, seed=1)
    assert [(w.song, w.bar) for w in other] != [(w.song, w.bar) for w in eval_windows]
    with pytest.raises(ValueError, match="non-overlapping"):
        select_eval_windows(valid_store, n=len(valid_store), seed=0)


@pytest.mark.data
def test_preceding_windows_are_the_eight_bars_before(valid_store, eval_windows):
    first = valid_store[0]
    before = preceding_windows(valid_store, [first, *eval_windows])
    assert first.bar == 0 and before[0] is None  # a song's first window has nothing before it
    assert sum(previous is not None for previous in before) >= 6
    for window, previous in zip(eval_windows, before[1:]):
        if window.bar < WINDOW_BARS:
            assert previous is None
        else:
            assert (previous.song, previous.bar) == (window.song, window.bar - WINDOW_BARS)


@pytest.mark.data
def test_ground_truth_generator_is_perfect(eval_windows):
    report = evaluate_generator(eval_windows, ground_truth_generator, batch_size=5, name="ground truth")
    assert report.precision == {1: 1.0, 5: 1.0, 10: 1.0, 20: 1.0}
    for name, value in report.ground_truth.items():
        assert report.generated[name] == pytest.approx(value, nan_ok=True)
    # Real music follows its own requested density closely (the adherence ceiling).
    assert report.ground_truth["density_correlation"] > 0.8
    assert 0.0 <= report.ground_truth["boundary_hit_rate"] <= 1.0
    assert all(report.targets().values())
    data = json.loads(report.to_json())
    assert data["n_windows"] == 12 and data["n_songs"] == 4 and data["precision"]["p@1"] == 1.0
    assert len(data["windows"]) == 12
    table = report.to_table()
    assert "| P@20 (%, 60 candidates, symbolic) | 100.00 | — | 44.10 |" in table
    assert f"{PAPER_DIFF_BGM['pche']:.3f}" in table


@pytest.mark.data
def test_shuffled_generator_ranks_lower(eval_windows):
    generate = shuffled_generator(eval_windows, seed=0)
    rolls = generate(eval_windows)
    for window, roll in zip(eval_windows, rolls):
        assert not any(np.array_equal(roll, w.pianoroll) for w in eval_windows if w.song == window.song)
    report = evaluate_generator(eval_windows, generate, name="shuffled")
    assert report.precision[1] < 0.5 and report.precision[5] < 1.0
    assert report.generated["density_correlation"] < report.ground_truth["density_correlation"]
    table = comparison_table([report, evaluate_generator(eval_windows, ground_truth_generator, name="gt")])
    assert table.splitlines()[0] == "| metric | shuffled | gt | ground truth | paper (Diff-BGM) |"


@pytest.mark.data
def test_density_matched_generator_follows_density(eval_windows):
    rolls = density_matched_generator(eval_windows, seed=3)
    in_batches = np.concatenate([density_matched_generator(eval_windows[i : i + 5], seed=3) for i in range(0, 12, 5)])
    assert np.array_equal(rolls, in_batches)
    assert not np.array_equal(rolls, density_matched_generator(eval_windows, seed=4))
    for window, roll in zip(eval_windows, rolls):
        requested = np.rint(window.attributes["onset_density"])
        got = onsets_per_beat(roll[0])
        assert np.all(got <= requested) and got.sum() >= 0.8 * requested.sum()
    report = evaluate_generator(eval_windows, partial(density_matched_generator, follow_register=True))
    assert report.generated["density_correlation"] > 0.7


def test_evaluate_generator_rejects_wrong_shape():
    roll = np.zeros((2, 128, 128), dtype=np.float32)
    windows = [_window(roll), _window(roll)]
    with pytest.raises(ValueError, match="returned shape"):
        evaluate_generator(windows, lambda batch: np.zeros((len(batch), 2, 64, 128)))
    report = evaluate_generator(windows, lambda batch: np.zeros((len(batch), 2, 128, 128)), ks=(1,))
    assert report.generated["empty_bar_ratio"] == 1.0 and math.isnan(report.generated["pche"])
    assert json.loads(report.to_json())["generated"]["pche"] is None
