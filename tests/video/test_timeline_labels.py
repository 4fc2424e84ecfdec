"""The captions and mood words under the timeline's thumbnails: wrapped, cut, and kept apart."""

from __future__ import annotations

import pytest

from diffbgm.music.mood import Mood
from diffbgm.video.timeline import CAPTION_LINES, ELLIPSIS, MIN_LABEL_CHARS, fit_text, shot_labels


@pytest.mark.parametrize("text, chars, lines", [
    ("a softly lit, warm scene with a cat", 12, 2),
    ("a softly lit, warm scene with a cat", 40, 2),
    ("melancholic", 5, 1),
    ("melancholic", 5, 2),
    ("a   scene\twith  odd   spacing and more words", 9, 3),
])
def test_fit_text_keeps_to_its_box_and_marks_a_cut(text, chars, lines):
    fitted = fit_text(text, chars, lines)
    assert 1 <= len(fitted) <= lines and all(len(line) <= chars for line in fitted)
    flat = " ".join(text.split())
    if ELLIPSIS in fitted[-1]:
        assert fitted[-1].endswith(ELLIPSIS) and len(" ".join(fitted)) - 1 < len(flat)
        # What is shown is the start of the text, in order.
        shown = "".join(fitted)[:-1].replace(" ", "")
        assert flat.replace(" ", "").startswith(shown)
    else:
        assert " ".join(fitted) == flat


def test_fit_text_fills_the_last_line_rather_than_leave_only_an_ellipsis():
    assert fit_text("melancholic", 5, 1) == ["mela" + ELLIPSIS]
    assert fit_text("a softly lit", 5, 2)[-1] != ELLIPSIS
    assert fit_text("anything", 1, 2) == []


def test_shot_labels_stay_within_their_shot_and_skip_short_ones():
    shots = [(0.0, 4.0), (4.0, 4.2), (4.2, 5.0), (5.0, 12.0)]
    captions = ["an astronaut in an orange suit before a flag and a model rocket, smiling at the camera", "a flash",
                "a cup of coffee on a saucer",
                "a cat"]
    moods = [Mood(0.6, 0.5), Mood(0.0, 0.9), Mood(-0.5, -0.5), Mood(0.7, -0.6)]
    seconds_per_char = 0.1
    labels = shot_labels(shots, captions, moods, seconds_per_char)
    # The 0.2-s shot has room for one character: no label.
    assert [label.middle_s for label in labels] == [2.0, 4.6, 8.5]
    spans = []
    for label, (start, end), caption, mood in zip(labels, [shots[0], shots[2], shots[3]],
                                                   [captions[0], captions[2], captions[3]],
                                                   [moods[0], moods[2], moods[3]]):
        assert label.chars >= MIN_LABEL_CHARS
        width = max(len(line) for line in (*label.caption, label.mood)) * seconds_per_char
        spans.append((label.middle_s - width / 2, label.middle_s + width / 2))
        assert start < spans[-1][0] and spans[-1][1] < end
        assert len(label.caption) <= CAPTION_LINES and caption.startswith(label.caption[0].rstrip(ELLIPSIS))
        assert label.mood.rstrip(ELLIPSIS) and ", ".join(mood.nearest_words(2)).startswith(label.mood.rstrip(ELLIPSIS))
    assert all(left[1] < right[0] for left, right in zip(spans, spans[1:]))
    assert labels[2].caption == ("a cat",) and labels[2].mood == ", ".join(moods[3].nearest_words(2))
    assert labels[0].caption[-1].endswith(ELLIPSIS)  # two lines of 39 characters for 86
