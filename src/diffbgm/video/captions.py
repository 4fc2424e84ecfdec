"""Shot captions: the user's own words when given, else a description built from what the frames show.

Diff-BGM captions each shot with BLIP and embeds the caption with BERT. Without a captioning model
we describe a shot from its top ImageNet labels (:mod:`diffbgm.video.image_model`), its colour and its
motion; a user may instead give one caption for the whole video or one per shot, which always wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diffbgm.music.mood import bucket
from diffbgm.video.mood import colour_amount


class CaptionCountError(ValueError):
    """The user gave a different number of captions than the video has shots."""


def _with_article(label: str) -> str:
    return ("an " if label[:1].lower() in "aeiou" else "a ") + label


def caption_shot(labels: Sequence[str], colour_stats: Mapping[str, float], motion: float) -> str:
    """Describe a shot, e.g. ``"a bright, warm, colourful scene with a lakeside and a boathouse, gentle motion"``.

    Parameters
    ----------
    labels:
        The shot's top ImageNet labels, most likely first (at most the first two are used, as the
        third is rarely right).
    colour_stats:
        ``brightness`` (0..1), ``warmth`` (-1..1) and ``saturation`` and/or ``colourfulness``
        (0..1), as in :mod:`diffbgm.video.mood`.
    motion:
        Shot motion, 0 (still) .. 1 (very fast).
    """
    light = bucket(float(colour_stats["brightness"]), (0.3, 0.65), ("dark", "softly lit", "bright"))
    tone = bucket(float(colour_stats["warmth"]), (-0.1, 0.1), ("cool", "neutral", "warm"))
    colour = bucket(colour_amount(colour_stats), (0.2, 0.45), ("muted", "natural", "colourful"))
    pace = bucket(float(motion), (0.15, 0.5), ("still", "gentle motion", "fast motion"))
    scene = f"a {light}, {tone}, {colour} scene"
    shown = [_with_article(label) for label in list(labels)[:2] if label]
    if shown:
        scene += " with " + " and ".join(shown)
    return f"{scene}, {pace}"


def resolve_shot_captions(user_text: str | Sequence[str] | None, auto_captions: Sequence[str]) -> list[str]:
    """The caption of each shot: the user's text when given, else the automatic captions.

    Parameters
    ----------
    user_text:
        ``None`` (use ``auto_captions``), one string for every shot, or one string per shot.
    auto_captions:
        The generated caption of each shot; its length is the number of shots.
    """
    n_shots = len(auto_captions)
    if user_text is None:
        return list(auto_captions)
    if isinstance(user_text, str):
        if not user_text.strip():
            raise ValueError("the caption text is empty")
        return [user_text.strip()] * n_shots
    captions = [str(text).strip() for text in user_text]
    if len(captions) != n_shots:
        raise CaptionCountError(f"got {len(captions)} captions for {n_shots} shots; give one for the "
                                f"whole video or exactly one per shot")
    if not all(captions):
        raise ValueError("a shot caption is empty")
    return captions
