"""POP909 windows -> training examples; `diffbgm train` end to end on two real songs."""

from __future__ import annotations


import numpy as np
import pytest
import torch
from click.testing import CliRunner

from diffbgm.cli import cli
from diffbgm.conditions.dynamic import dynamic_from_attributes
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.models import load_checkpoint
from diffbgm.music.window import ATTRIBUTE_NAMES, MusicWindow
from diffbgm.training.datasets import Pop909Windows, relabel_segments, segment_descriptions
from repo_paths import CONFIGS



@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # `--threads 1` below sets the process-wide count


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


def window(phrases: list[int], mode: str = "major", low_notes: bool = False) -> MusicWindow:
    roll = np.zeros((2, 128, 128), dtype=np.float32)
    pitch = 40 if low_notes else 76
    roll[0, ::4, pitch] = 1.0
    attributes = {name: np.zeros(32, dtype=np.float32) for name in ATTRIBUTE_NAMES}
    attributes["onset_density"][:] = 1.0
    attributes["pitch_mean"][:] = pitch
    attributes["phrase_id"][:] = np.asarray(phrases, dtype=np.float32)
    attributes["phrase_boundary"][1:] = np.diff(attributes["phrase_id"]) != 0
    return MusicWindow("001", 0, "train", roll, np.zeros((32, 36), np.float32), attributes,
                       key_mode=mode, tempo_bpm=90.0)


def test_relabel_segments_in_order_of_appearance():
    assert relabel_segments(np.array([7, 7, 8, 8, 8, 9])).tolist() == [0, 0, 1, 1, 1, 2]
    assert relabel_segments(np.array([3.0, 3.0, 3.0])).tolist() == [0, 0, 0]


def test_examples_carry_scaled_roll_and_per_segment_semantics(embedder):
    phrases = [4] * 20 + [5] * 12
    windows = [window(phrases), window(phrases, mode="minor", low_notes=True)]
    dataset = Pop909Windows(windows, embedder)
    item = dataset[0]
    assert item["x"].shape == (2, 128, 128) and set(item["x"].unique().tolist()) == {-1.0, 1.0}
    assert item["segments"].tolist() == [0] * 20 + [1] * 12
    assert torch.allclose(item["dynamic"], torch.from_numpy(dynamic_from_attributes(windows[0].attributes)))
    texts = segment_descriptions(windows[0], item["segments"].numpy())
    expected = torch.from_numpy(embedder.embed(texts))
    assert torch.allclose(item["semantic"][0], expected[0]) and torch.allclose(item["semantic"][25], expected[1])
    # a minor, low window is described differently from a major, high one
    assert not torch.allclose(dataset[1]["semantic"][0], item["semantic"][0])
    assert len(dataset.texts) == len(set(dataset.texts))


def test_pitch_shift_depends_only_on_the_seed(embedder):
    dataset = Pop909Windows([window([0] * 32)], embedder, pitch_shift=3)
    shifted = [dataset[(0, (0, 0, seed))]["x"][0].argmax(dim=-1)[0].item() for seed in range(12)]
    assert set(shifted) - {76} and all(73 <= p <= 79 for p in shifted)
    assert dataset[(0, (0, 0, 5))]["x"].equal(dataset[(0, (0, 0, 5))]["x"])


def test_examples_carry_the_songs_key_and_it_moves_with_the_notes(embedder):
    from dataclasses import replace

    from diffbgm.conditions import scale_vector
    from diffbgm.music.key import Key

    g_minor = replace(window([0] * 32, mode="minor"), key_tonic=7)
    item = Pop909Windows([g_minor], embedder)[0]
    assert torch.equal(item["scale"], torch.from_numpy(scale_vector(Key.parse("G minor").pitch_mask())))
    dataset = Pop909Windows([g_minor], embedder, pitch_shift=3)
    for seed in range(6):
        shifted = dataset[(0, (0, 0, seed))]
        semitones = shifted["x"][0].argmax(dim=-1)[0].item() - 76
        moved = Key((7 + semitones) % 12, "minor")
        assert torch.equal(shifted["scale"], torch.from_numpy(scale_vector(moved.pitch_mask())))


def test_examples_carry_the_windows_own_groove_through_transposition(embedder):
    from diffbgm.conditions import groove_vector

    swung = window([0] * 32)
    swung.pianoroll[0, 6::16, 79] = 1.0  # one more onset on the "and" of beat 2 of every bar
    item = Pop909Windows([swung], embedder)[0]
    expected = -np.ones(16, dtype=np.float32)
    expected[[0, 4, 6, 8, 12]] = 1.0
    assert np.array_equal(item["groove"].numpy(), expected)
    assert np.array_equal(groove_vector(swung.pianoroll), expected)
    dataset = Pop909Windows([swung], embedder, pitch_shift=3)
    assert all(torch.equal(dataset[(0, (0, 0, seed))]["groove"], item["groove"]) for seed in range(4))

@pytest.mark.data
def test_cli_trains_on_real_windows(tmp_path, pop909_root, structure_root, split_file):
    from diffbgm.music.dataset import build_pop909

    data = tmp_path / "windows"
    build_pop909(pop909_root, structure_root, split_file, data, stride_bars=8, songs=["001", "003"],
                 workers=1, progress=False)
    out = tmp_path / "run"
    args = ["train", str(CONFIGS / "tiny.yaml"), "--out", str(out), "--data", str(data), "--max-steps", "2",
            "--threads", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "finished at step 2" in result.output
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and "--resume" in result.output
    result = CliRunner().invoke(cli, args[:-4] + ["--max-steps", "3", "--resume"])
    assert result.exit_code == 0, result.output
    model, config = load_checkpoint(out / "checkpoint.safetensors", "cpu")
    assert config.unet.pitch_low == 56
    result = CliRunner().invoke(cli, ["export", str(out / "checkpoint.safetensors"), str(tmp_path / "w.safetensors")])
    assert result.exit_code == 0
    shipped, _ = load_checkpoint(tmp_path / "w.safetensors", "cpu")
    for name, value in model.state_dict().items():
        assert torch.allclose(shipped.state_dict()[name], value, atol=1e-2, rtol=1e-2)


def test_bgm909_pairs_use_visual_caption_rows_and_shots(tmp_path):
    from diffbgm.training.datasets import Bgm909Windows
    from diffbgm.training.bgm909 import Bgm909Item, write_bgm909

    n_beats = 64  # windows at bars 0 and 8 cover the song's 64 beats
    visual = np.tile(np.arange(n_beats, dtype=np.float32)[:, None], (1, 512))
    caption = np.tile(-np.arange(n_beats, dtype=np.float32)[:, None], (1, 768))
    # 3 shots over 640 frames (10 frames per beat): beats 0..19, 20..47, 48..63
    write_bgm909(tmp_path, "001", Bgm909Item(visual, caption, [(0, 199), (200, 479), (480, 639)]))
    first, second = window([0] * 32), window([0] * 32)
    second.bar = 8
    other = window([0] * 32)
    other.song = "002"  # no BGM909 files: left out
    dataset = Bgm909Windows([first, other, second], tmp_path)
    assert len(dataset) == 2 and (dataset.dynamic_dim, dataset.semantic_dim) == (512, 768)
    item = dataset[1]
    assert item["dynamic"][:, 0].tolist() == list(range(32, 64))
    assert item["semantic"][:, 0].tolist() == [-b for b in range(32, 64)]
    assert item["segments"].tolist() == [0] * 16 + [1] * 16
    assert dataset[0]["segments"].tolist() == [0] * 20 + [1] * 12


def _song_window(bar: int) -> MusicWindow:
    """Bar ``bar`` .. ``bar + 7`` of a song whose bar ``b`` strikes pitch ``50 + b`` on every beat."""
    roll = np.zeros((2, 128, 128), dtype=np.float32)
    attributes = {name: np.zeros(32, dtype=np.float32) for name in ATTRIBUTE_NAMES}
    for beat in range(32):
        song_bar = bar + beat // 4
        roll[0, beat * 4, 50 + song_bar] = 1.0
        roll[1, beat * 4 + 1:beat * 4 + 3, 50 + song_bar] = 1.0
        attributes["phrase_id"][beat] = song_bar // 3
        attributes["pitch_mean"][beat] = 50 + song_bar
    attributes["phrase_boundary"][:] = np.r_[float(bar % 3 == 0), np.diff(attributes["phrase_id"]) != 0]
    return MusicWindow("001", bar, "train", roll, np.zeros((32, 36), np.float32), attributes, tempo_bpm=90.0)


def test_a_shortened_bar_moves_the_music_up_and_fills_from_the_next_bar():
    from diffbgm.music.augment import shorten_bar
    from diffbgm.music.timing import metric_steps_of_bars

    first, second = _song_window(0), _song_window(1)
    shortened, bar_beats = shorten_bar(first, second, bar=2, dropped_beats=1)
    struck = [int(np.flatnonzero(shortened.pianoroll[0, beat * 4])[0]) - 50 for beat in range(32)]
    # Song bars 0 and 1 whole, bar 2 without its last beat, then bars 3.. and one beat of song bar 8.
    assert struck == [0] * 4 + [1] * 4 + [2] * 3 + [3] * 4 + [4] * 4 + [5] * 4 + [6] * 4 + [7] * 4 + [8]
    assert bar_beats.tolist() == [4, 4, 3, 4, 4, 4, 4, 4, 1]
    steps = metric_steps_of_bars(bar_beats)
    assert steps[44] == 0 and steps[43] == 11 and steps[-4:].tolist() == [0, 1, 2, 3]
    assert shortened.attributes["pitch_mean"][11] == 53 and shortened.attributes["phrase_boundary"][11] == 1
    with pytest.raises(ValueError):
        shorten_bar(first, _song_window(2), bar=2, dropped_beats=1)


def test_short_bar_examples_carry_their_metric_steps(embedder):
    windows = [_song_window(0), _song_window(1)]
    dataset = Pop909Windows(windows, embedder, short_bar_prob=1.0)
    default = np.arange(128) % 16
    shortened = [dataset[(0, (0, 0, seed))] for seed in range(6)]
    for item in shortened:
        steps = item["metric_steps"].numpy()
        assert not np.array_equal(steps, default) and steps[0] == 0 and item["x"].shape == (2, 128, 128)
        reset = int(np.flatnonzero((steps == 0) & (np.arange(128) % 16 != 0))[0])
        # The bar line after the short bar is a phrase start (the bar before song bar 3 or 6).
        assert item["x"][0, reset].argmax().item() - 50 in (3, 6)
    # The last window of the song has no continuation, and unseeded items are never augmented.
    assert np.array_equal(dataset[(1, (0, 0, 0))]["metric_steps"].numpy(), default)
    assert np.array_equal(dataset[0]["metric_steps"].numpy(), default)
    assert np.array_equal(Pop909Windows(windows, embedder)[(0, (0, 0, 0))]["metric_steps"].numpy(), default)


def test_alike_examples_keep_only_the_phrase_starts(embedder):
    phrases = [4] * 12 + [5] * 12 + [6] * 8
    first = window(phrases)
    first.attributes["onset_density"][12:24] = 3.0
    first.attributes["pitch_mean"][24:] = 50.0
    windows = [first, window(phrases, mode="minor", low_notes=True)]
    plain = Pop909Windows(windows, embedder)
    alike = Pop909Windows(windows, embedder, alike_prob=1.0)
    item, given = alike[(0, (0, 0, 1))], plain[(0, (0, 0, 1))]
    boundary = given["dynamic"][:, 3]
    assert boundary[[12, 24]].tolist() == [1.0, 1.0] and torch.equal(item["dynamic"][:, 3], boundary)
    # Density, accent and register the window's mean on every beat; the first phrase's words throughout.
    assert torch.allclose(item["dynamic"][:, :3], given["dynamic"][:, :3].mean(0).expand(32, 3))
    assert not torch.allclose(given["dynamic"][:, 0], given["dynamic"][0, 0].expand(32))
    assert torch.equal(item["semantic"], given["semantic"][:1].expand(32, -1))
    assert not torch.equal(given["semantic"][25], given["semantic"][0])
    assert torch.equal(item["segments"], given["segments"]) and torch.equal(item["x"], given["x"])
    # Drawn from the seed: unseeded items and alike_prob 0 are never made alike.
    assert torch.equal(alike[0]["dynamic"], plain[0]["dynamic"])
    some = Pop909Windows(windows, embedder, alike_prob=0.5)
    drawn = [torch.equal(some[(0, (0, 0, s))]["dynamic"], plain[(0, (0, 0, s))]["dynamic"]) for s in range(12)]
    assert 0 < sum(drawn) < 12 and drawn == [torch.equal(some[(0, (0, 0, s))]["dynamic"], plain[(0, (0, 0, s))]["dynamic"]) for s in range(12)]
