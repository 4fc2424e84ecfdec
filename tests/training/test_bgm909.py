"""BGM909 layout: round trips, the official file formats, and building it from a synthesised pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi
import pytest
import torch
from click.testing import CliRunner
from video.synth import solid, write_video

from diffbgm.cli import cli
from diffbgm.training.bgm909 import (
    CAPTION_DIM,
    VISUAL_DIM,
    Bgm909FormatError,
    Bgm909Item,
    list_bgm909,
    match_pairs,
    random_projection,
    read_bgm909,
    read_scenes,
    shots_to_scenes,
    write_bgm909,
)


def _item(rows: int = 6, beats: bool = True) -> Bgm909Item:
    rng = np.random.default_rng(1)
    return Bgm909Item(
        visual=rng.standard_normal((rows, VISUAL_DIM)).astype(np.float32),
        caption=rng.standard_normal((rows, CAPTION_DIM)).astype(np.float32),
        scenes=[(0, 47), (48, 95)],
        beat_times=np.arange(rows) * 0.5 if beats else None,
    )


def test_round_trip_in_the_official_layout(tmp_path: Path) -> None:
    item = _item()
    write_bgm909(tmp_path, "001", item)
    write_bgm909(tmp_path, "002", _item(beats=False))
    # The files are where and what Diff-BGM's loader reads.
    visual = torch.load(tmp_path / "new_raw_video_feats" / "001.pth", weights_only=True)
    assert isinstance(visual, torch.Tensor) and tuple(visual.shape) == (6, VISUAL_DIM)
    assert np.load(tmp_path / "caption_feats" / "001.npy").shape == (6, CAPTION_DIM)
    assert (tmp_path / "detection" / "001_scenes.txt").read_text() == "0 47\n48 95\n"
    back = read_bgm909(tmp_path, "001")
    np.testing.assert_array_equal(back.visual, item.visual)
    np.testing.assert_array_equal(back.caption, item.caption)
    np.testing.assert_array_equal(back.beat_times, item.beat_times)
    assert back.scenes == item.scenes
    assert read_bgm909(tmp_path, "002").beat_times is None
    assert list_bgm909(tmp_path) == ["001", "002"]
    assert not list(tmp_path.rglob(".*"))  # no temp files left behind


def test_list_skips_incomplete_songs_and_reading_them_fails(tmp_path: Path) -> None:
    write_bgm909(tmp_path, "001", _item())
    (tmp_path / "caption_feats" / "001.npy").unlink()
    assert list_bgm909(tmp_path) == [] and list_bgm909(tmp_path / "none") == []
    with pytest.raises(Bgm909FormatError, match="missing"):
        read_bgm909(tmp_path, "001")


def test_scenes_parser(tmp_path: Path) -> None:
    path = tmp_path / "x_scenes.txt"
    path.write_text("0 10\n\n11 20\n")
    assert read_scenes(path) == [(0, 10), (11, 20)]
    path.write_text("0 10\n11\n")
    with pytest.raises(Bgm909FormatError, match=":2:"):
        read_scenes(path)


def test_item_validates_shapes() -> None:
    with pytest.raises(Bgm909FormatError, match="2-D"):
        Bgm909Item(np.zeros(5), np.zeros((5, 768)), [])
    with pytest.raises(Bgm909FormatError, match="beat_times"):
        Bgm909Item(np.zeros((5, 512)), np.zeros((5, 768)), [], beat_times=np.zeros(4))
    with pytest.raises(Bgm909FormatError, match="scene"):
        Bgm909Item(np.zeros((5, 512)), np.zeros((5, 768)), [(10, 3)])


def test_shots_to_inclusive_frames() -> None:
    assert shots_to_scenes([(0.0, 2.0), (2.0, 3.5)], fps=24.0) == [(0, 47), (48, 83)]


def test_projection_is_fixed() -> None:
    np.testing.assert_array_equal(random_projection(), random_projection())
    assert random_projection().shape == (1280, VISUAL_DIM)


def test_pairs_match_by_stem(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "m").mkdir()
    for name in ("a.mp4", "b.mkv", "c.mp4", "notes.txt"):
        (tmp_path / "v" / name).touch()
    for name in ("a.mid", "b.MIDI", "d.mid"):
        (tmp_path / "m" / name).touch()
    pairs, unmatched = match_pairs(tmp_path / "v", tmp_path / "m")
    assert [(stem, v.name, m.name) for stem, v, m in pairs] == [("a", "a.mp4", "a.mid"), ("b", "b.mkv", "b.MIDI")]
    assert unmatched == ["c.mp4", "d.mid"]


def _write_midi(path: Path, seconds: float, bpm: float = 120.0) -> None:
    midi = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    piano = pretty_midi.Instrument(program=0)
    step = 60.0 / bpm
    for i in range(int(seconds / step)):
        piano.notes.append(pretty_midi.Note(velocity=80, pitch=60 + i % 12, start=i * step, end=(i + 1) * step))
    midi.instruments.append(piano)
    midi.write(str(path))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bgm909")
    (root / "videos").mkdir()
    (root / "midi").mkdir()
    # Two shots: 2 s of warm orange, then 2 s of dark blue.
    frames = [*solid((230, 140, 30), 24), *solid((20, 30, 90), 24)]
    write_video(root / "videos" / "song.mp4", frames, fps=12.0)
    _write_midi(root / "midi" / "song.mid", seconds=4.0)
    out = root / "out"
    result = CliRunner().invoke(cli, ["data", "bgm909", "--videos", str(root / "videos"), "--midi",
                                      str(root / "midi"), "--out", str(out), "--no-cache"])
    assert result.exit_code == 0, result.output
    return root, out


def test_build_writes_one_row_per_midi_beat(built: tuple[Path, Path]) -> None:
    root, out = built
    assert list_bgm909(out) == ["song"]
    item = read_bgm909(out, "song")
    beats = pretty_midi.PrettyMIDI(str(root / "midi" / "song.mid")).get_beats()
    np.testing.assert_allclose(item.beat_times, beats)
    assert item.visual.shape == (len(beats), VISUAL_DIM) and item.caption.shape == (len(beats), CAPTION_DIM)
    np.testing.assert_allclose(np.linalg.norm(item.visual, axis=1), 1.0, atol=1e-5)
    # Two shots, cut at 2 s (frame 24 at 12 fps).
    assert len(item.scenes) == 2 and item.scenes[0][0] == 0 and abs(item.scenes[1][0] - 24) <= 2
    first, second = item.beat_times < 1.9, item.beat_times > 2.1
    # MiniLM's 384 columns, zero padding after; one caption vector per shot.
    assert np.all(item.caption[:, 384:] == 0)
    np.testing.assert_allclose(item.caption[first], np.repeat(item.caption[first][:1], first.sum(), 0))
    assert not np.allclose(item.caption[first][0], item.caption[second][0])
    assert not np.allclose(item.visual[first][0], item.visual[second][-1])
    assert (out / "midi" / "song.mid").read_bytes() == (root / "midi" / "song.mid").read_bytes()
    assert (out / "analysis" / "song" / "analysis.json").is_file()


def test_build_refuses_bad_input(built: tuple[Path, Path], tmp_path: Path) -> None:
    root, out = built
    runner = CliRunner()
    result = runner.invoke(cli, ["data", "bgm909", "--videos", str(root / "videos"), "--midi",
                                 str(root / "midi"), "--out", str(out)])
    assert result.exit_code == 1 and "not empty" in result.output
    (tmp_path / "empty").mkdir()
    result = runner.invoke(cli, ["data", "bgm909", "--videos", str(tmp_path / "empty"), "--midi",
                                 str(root / "midi"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "no video" in result.output
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.partial-*"))


def test_bad_video_leaves_no_output(tmp_path: Path) -> None:
    (tmp_path / "v").mkdir()
    (tmp_path / "m").mkdir()
    (tmp_path / "v" / "x.mp4").write_bytes(b"not a video at all")
    _write_midi(tmp_path / "m" / "x.mid", seconds=1.0)
    result = CliRunner().invoke(cli, ["data", "bgm909", "--videos", str(tmp_path / "v"), "--midi",
                                      str(tmp_path / "m"), "--out", str(tmp_path / "o"), "--no-cache"])
    assert result.exit_code == 1 and "Error" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists() and not list(tmp_path.glob(".o.partial-*"))


def test_user_clip_and_bert_folders_give_the_paper_widths(built: tuple[Path, Path], tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from diffbgm.video.analysis import VideoAnalysis
    from diffbgm.training.bgm909 import CaptionFeaturizer, build_item
    from diffbgm.video.encoders import ClipImageEncoder

    tiny = dict(intermediate_size=37, num_hidden_layers=1, num_attention_heads=4)
    clip_dir, bert_dir = tmp_path / "clip", tmp_path / "bert"
    vision = transformers.CLIPVisionConfig(hidden_size=32, image_size=32, patch_size=8,
                                           projection_dim=VISUAL_DIM, **tiny)
    transformers.CLIPVisionModelWithProjection(vision).save_pretrained(clip_dir)
    transformers.CLIPImageProcessor(size={"shortest_edge": 32},
                                    crop_size={"height": 32, "width": 32}).save_pretrained(clip_dir)
    bert_dir.mkdir()
    (bert_dir / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "scene"]))
    transformers.BertTokenizer(str(bert_dir / "vocab.txt")).save_pretrained(bert_dir)
    transformers.BertModel(transformers.BertConfig(vocab_size=7, hidden_size=CAPTION_DIM, **tiny)).save_pretrained(bert_dir)

    root, out = built
    analysis = VideoAnalysis.load(out / "analysis" / "song")
    item = build_item(root / "videos" / "song.mp4", root / "midi" / "song.mid", analysis,
                      CaptionFeaturizer(bert_dir), ClipImageEncoder(clip_dir))
    assert item.visual.shape == (len(item.beat_times), VISUAL_DIM)
    assert item.caption.shape == (len(item.beat_times), CAPTION_DIM) and np.any(item.caption[:, 384:] != 0)
    first, second = item.beat_times < 1.9, item.beat_times > 2.1
    assert not np.allclose(item.visual[first][0], item.visual[second][-1])
    with pytest.raises(Bgm909FormatError, match="BGM909 captions are 768-d"):
        transformers.BertModel(transformers.BertConfig(vocab_size=7, hidden_size=32, **tiny)).save_pretrained(bert_dir)
        CaptionFeaturizer(bert_dir)
