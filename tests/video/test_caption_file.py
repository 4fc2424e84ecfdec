"""Captions files: plain lines, timed lines and SRT/WebVTT laid on the shots; bad files are one-line errors."""

from __future__ import annotations

import pytest

from diffbgm.video.caption_file import Caption, CaptionFileError, captions_for_shots, read_captions
from diffbgm.video.captions import CaptionCountError

SHOTS = [(0.0, 3.0), (3.0, 6.0), (6.0, 10.0)]


def test_plain_lines_are_one_caption_per_shot_or_one_for_all(tmp_path):
    (tmp_path / "three.txt").write_text("a calm lake\n\na storm over the sea\n  sunrise  \n")
    captions = read_captions(tmp_path / "three.txt")
    assert captions == [Caption("a calm lake"), Caption("a storm over the sea"), Caption("sunrise")]
    assert captions_for_shots(captions, SHOTS) == ["a calm lake", "a storm over the sea", "sunrise"]
    (tmp_path / "one.txt").write_text("a quiet evening\n")
    assert captions_for_shots(read_captions(tmp_path / "one.txt"), SHOTS) == ["a quiet evening"] * 3
    with pytest.raises(CaptionCountError, match="got 3 captions for 2 shots"):
        captions_for_shots(captions, SHOTS[:2])


def test_timed_lines_last_until_the_next_and_join_within_a_shot(tmp_path):
    (tmp_path / "timed.tsv").write_text("0\ta calm lake\n5.0\ta storm\n00:08.000\tsunrise\n")
    captions = read_captions(tmp_path / "timed.tsv")
    assert [c.start_s for c in captions] == [0.0, 5.0, 8.0]
    assert captions_for_shots(captions, SHOTS) == ["a calm lake", "a calm lake a storm", "a storm sunrise"]


SRT = (
    "1\r\n00:00:00,500 --> 00:00:02,000\r\n<i>Waves</i> roll in\r\nslowly\r\n\r\n"
    "2\r\n00:00:06,500 --> 00:00:09,000\r\n{\\an8}Thunder\r\n\r\n"
)

VTT = """WEBVTT - a film

NOTE the storm starts at six seconds

intro
00:00.500 --> 00:02.000 align:start position:10%
<v Narrator>Waves roll in</v>
slowly

00:06.500 --> 00:09.000
Thunder
"""


@pytest.mark.parametrize("name, text", [("film.srt", SRT), ("film.vtt", VTT), ("subtitles.txt", VTT)])
def test_subtitles_are_laid_on_the_shots_by_time(tmp_path, name, text):
    (tmp_path / name).write_bytes(text.encode())
    captions = read_captions(tmp_path / name)
    assert captions == [Caption("Waves roll in slowly", 0.5, 2.0), Caption("Thunder", 6.5, 9.0)]
    # The middle shot has no subtitle: it takes the nearest one (Waves ends 1 s before it, Thunder starts 0.5 s after).
    assert captions_for_shots(captions, SHOTS) == ["Waves roll in slowly", "Thunder", "Thunder"]


@pytest.mark.parametrize("name, content, message", [
    ("empty.txt", "\n \n", "is empty"),
    ("binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
    ("mixed.tsv", "0\tcalm\nstorm\n", "line 2: no start time"),
    ("order.tsv", "5\tcalm\n2\tstorm\n", "line 2: starts at 2.000 s, not after"),
    ("blank.tsv", "0\tcalm\n3\t \n", "line 2: the caption is empty"),
    ("bad_time.srt", "1\n00:00:01,000 --> soon\nhello\n", "line 2: 'soon' is not a time"),
    ("backwards.srt", "1\n00:00:05,000 --> 00:00:01,000\nhello\n", "ends .* before it starts"),
    ("silent.srt", "1\n00:00:01,000 --> 00:00:02,000\n\n", "no subtitle cue has text"),
    ("prose.srt", "just some words\n", "line 1: a subtitle block without"),
])
def test_bad_captions_files_are_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(CaptionFileError, match=message) as error:
        read_captions(path)
    assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_an_arrow_in_a_plain_caption_is_not_a_subtitle(tmp_path):
    (tmp_path / "arrows.txt").write_text("calm --> storm\nstorm --> calm\n")
    assert [c.text for c in read_captions(tmp_path / "arrows.txt")] == ["calm --> storm", "storm --> calm"]
