"""Automatic shot captions and the user's captions resolved onto shots."""

from __future__ import annotations

import pytest

from diffbgm.video.captions import CaptionCountError, caption_shot, resolve_shot_captions


def test_caption_describes_labels_colour_and_motion() -> None:
    stats = {"brightness": 0.8, "warmth": 0.3, "saturation": 0.6}
    caption = caption_shot(["lakeside", "orange", "boathouse"], stats, motion=0.05)
    assert caption == "a bright, warm, colourful scene with a lakeside and an orange, still"


def test_caption_of_dark_cool_fast_shot_without_labels() -> None:
    stats = {"brightness": 0.1, "warmth": -0.5, "colourfulness": 0.05}
    assert caption_shot([], stats, motion=0.9) == "a dark, cool, muted scene, fast motion"


def test_caption_buckets_the_middle() -> None:
    stats = {"brightness": 0.5, "warmth": 0.0, "saturation": 0.3}
    assert caption_shot(["seashore"], stats, motion=0.3) == (
        "a softly lit, neutral, natural scene with a seashore, gentle motion")


def test_user_text_takes_precedence() -> None:
    auto = ["a", "b", "c"]
    assert resolve_shot_captions(None, auto) == auto
    assert resolve_shot_captions("  a wedding on the beach ", auto) == ["a wedding on the beach"] * 3
    assert resolve_shot_captions(["x", "y", "z"], auto) == ["x", "y", "z"]


def test_caption_count_must_match_shots() -> None:
    with pytest.raises(CaptionCountError, match="2 captions for 3 shots"):
        resolve_shot_captions(["x", "y"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="empty"):
        resolve_shot_captions(["x", " ", "z"], ["a", "b", "c"])
    with pytest.raises(ValueError, match="empty"):
        resolve_shot_captions("   ", ["a"])
