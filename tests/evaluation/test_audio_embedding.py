import os
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from diffbgm.evaluation.audio_embedding import (
    EMBED_SAMPLE_RATE,
    AudioEmbeddingError,
    ExternalAudioEmbedder,
    musicnn_embedder,
    render_window_audio,
)
from diffbgm.evaluation.baselines import ground_truth_generator, shuffled_generator
from diffbgm.evaluation.model_eval import evaluate_generator
from diffbgm.music.grid import ONSET, SUSTAIN, STEPS_PER_BEAT

# An embedding command for the tests, speaking the same protocol as musicnn_worker.py: it reads the
# listed WAVs and writes the RMS of each eighth of every file, and logs each run to count them.
EIGHTHS_RMS_WORKER = textwrap.dedent(
    """
    import sys, wave
    import numpy as np
    listing, out = sys.argv[-2], sys.argv[-1]
    if "--fail" in sys.argv:
        sys.exit("embedder exploded: no model here")
    rows = []
    for path in open(listing).read().split():
        with wave.open(path) as reader:
            assert reader.getframerate() == int(sys.argv[1]) and reader.getnchannels() == 1
            x = np.frombuffer(reader.readframes(reader.getnframes()), "<i2") / 32768.0
        rows.append([np.sqrt(np.mean(part ** 2)) for part in np.array_split(x, 8)])
    if "--short" in sys.argv:
        rows = rows[:-1]
    np.save(out, np.array(rows, dtype=np.float32))
    with open(sys.argv[2], "a") as log:
        log.write(str(len(rows)) + "\\n")
    """
)


@pytest.fixture
def worker(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(EIGHTHS_RMS_WORKER)
    log = tmp_path / "runs.log"

    def command(*extra: str) -> list[str]:
        return [sys.executable, str(script), str(EMBED_SAMPLE_RATE), str(log), *extra]

    command.log = log
    return command


def _roll_with_note(first_beat: int, beats: int, pitch: int = 60, n_steps: int = 128) -> np.ndarray:
    roll = np.zeros((2, n_steps, 128), dtype=np.float32)
    start = first_beat * STEPS_PER_BEAT
    roll[ONSET, start, pitch] = 1.0
    roll[SUSTAIN, start + 1 : start + beats * STEPS_PER_BEAT, pitch] = 1.0
    return roll


def test_render_window_audio_lasts_the_window_and_sounds_where_the_notes_are():
    bpm = 120.0
    audio = render_window_audio(_roll_with_note(first_beat=0, beats=4), bpm=bpm)
    # 128 sixteenths = 32 beats = 16 s at 120 BPM, however early the music stops.
    assert audio.dtype == np.float32 and len(audio) == 16 * EMBED_SAMPLE_RATE
    second = EMBED_SAMPLE_RATE
    assert np.abs(audio[: 2 * second]).max() > 0.01  # the note: beats 0-4, seconds 0-2
    assert np.abs(audio[4 * second :]).max() == 0.0  # silence after it (and its release)
    assert not render_window_audio(np.zeros((2, 128, 128), np.float32), bpm=bpm).any()
    late = render_window_audio(_roll_with_note(first_beat=16, beats=4), bpm=bpm)
    assert np.abs(late[: 7 * second]).max() == 0.0 and np.abs(late[8 * second : 10 * second]).max() > 0.01


def test_external_embedder_renders_embeds_and_remembers(worker):
    rolls = np.stack([_roll_with_note(0, 4), _roll_with_note(16, 4), _roll_with_note(0, 4, pitch=72)])
    embed = ExternalAudioEmbedder(worker(), name="rms")
    vectors = embed(rolls)
    assert vectors.shape == (3, 8)
    # Eighths (2.4 s) of a 19.2-s window at the default 100 BPM: the early note sounds in the first, the
    # late one (beats 16-20 = 9.6-12 s, the fifth eighth) there and not in the first.
    assert vectors[0, 0] > 1e-3 and vectors[0, 4] == 0.0
    assert vectors[1, 0] == 0.0 and vectors[1, 4] > 1e-3
    assert worker.log.read_text().split() == ["3"]
    again = embed(rolls[[2, 0]])
    assert np.array_equal(again, vectors[[2, 0]]) and worker.log.read_text().split() == ["3"]
    embed(np.stack([rolls[0], _roll_with_note(8, 2)]))
    assert worker.log.read_text().split() == ["3", "1"]  # only the new roll was embedded


def test_external_embedder_errors_are_one_line(worker):
    roll = _roll_with_note(0, 4)[None]
    with pytest.raises(AudioEmbeddingError, match="rms embedder failed: embedder exploded: no model here"):
        ExternalAudioEmbedder(worker("--fail"), name="rms")(roll)
    with pytest.raises(AudioEmbeddingError, match=r"wrote shape \(1, 8\).* for 2 files"):
        ExternalAudioEmbedder(worker("--short"), name="rms")(np.concatenate([roll, roll[:, :, ::-1]]))
    with pytest.raises(AudioEmbeddingError, match="cannot run the rms embedder"):
        ExternalAudioEmbedder(["/nonexistent/python"], name="rms")(roll)


def test_musicnn_embedder_reports_a_python_without_musicnn(tmp_path):
    with pytest.raises(AudioEmbeddingError, match="musicnn .*failed: .*No module named"):
        musicnn_embedder(sys.executable)(_roll_with_note(0, 4)[None])


@pytest.mark.data
def test_evaluation_reports_audio_precision(eval_windows, worker):
    embed = ExternalAudioEmbedder(worker(), name="rms")
    truth = evaluate_generator(eval_windows, ground_truth_generator, name="gt", audio_embedder=embed)
    assert truth.audio_precision[1] == 1.0 and truth.audio_embedding == "rms"
    assert "| P@20 (%, 60 candidates, rms) | 100.00 | — | 44.10 |" in truth.to_table()
    shuffled = evaluate_generator(eval_windows, shuffled_generator(eval_windows), audio_embedder=embed)
    assert shuffled.audio_precision[1] < 0.5
    # The shuffled rolls are windows the ground truth already embedded: one run of the command in all.
    assert worker.log.read_text().split() == [str(len(eval_windows))]
    assert shuffled.to_dict()["audio_precision"]["p@1"] == shuffled.audio_precision[1]


MUSICNN_PYTHON = os.environ.get("DIFFBGM_MUSICNN_PYTHON")


@pytest.mark.skipif(not MUSICNN_PYTHON, reason="set DIFFBGM_MUSICNN_PYTHON to a Python with musicnn")
def test_musicnn_embeds_windows():
    rolls = np.stack([_roll_with_note(0, 4), _roll_with_note(0, 32, pitch=36), np.zeros((2, 128, 128), np.float32)])
    vectors = musicnn_embedder(Path(MUSICNN_PYTHON))(rolls)
    assert vectors.shape == (3, 200) and np.isfinite(vectors).all()
    assert not np.allclose(vectors[0], vectors[1])
    assert np.array_equal(musicnn_embedder(Path(MUSICNN_PYTHON))(rolls[:1]), vectors[:1])
    with pytest.raises(AudioEmbeddingError, match="shorter than musicnn's 3-s input"):
        musicnn_embedder(Path(MUSICNN_PYTHON))(_roll_with_note(0, 2, n_steps=16)[None])
