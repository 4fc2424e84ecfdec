"""The user's mood words for single shots (what the studio's shot inspector sets)."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.conditions.user_text import apply_shot_moods
from diffbgm.music.mood import Mood, mood_from_words
from diffbgm.video.record import VideoAnalysis


class NoEmbedder:
    """Known mood words are taken as they are: nothing is embedded."""

    def embed(self, texts):
        raise AssertionError(f"embedded {texts}")


def three_shots() -> VideoAnalysis:
    times = np.arange(0, 6, 0.5, dtype=np.float32)
    return VideoAnalysis(duration_s=6.0, fps=25.0, width=64, height=36, frame_times=times, cuts_s=[2.0, 4.0],
                         shots=[(0.0, 2.0), (2.0, 4.0), (4.0, 6.0)], features={},
                         image_embeddings=np.zeros((len(times), 4), np.float32),
                         shot_captions=["a", "b", "c"], shot_moods=[Mood(0.5, 0.5), Mood(0.1, -0.2), Mood(-0.3, 0.4)])


def test_only_the_shots_given_words_change():
    analysis = three_shots()
    result = apply_shot_moods(analysis, NoEmbedder(), [None, "tense, dark", None])
    assert result.shot_moods[0] == analysis.shot_moods[0] and result.shot_moods[2] == analysis.shot_moods[2]
    assert result.shot_moods[1] == mood_from_words(["tense", "dark"]) != analysis.shot_moods[1]
    assert analysis.shot_moods[1] == Mood(0.1, -0.2)  # the analysis itself is left as it was


def test_one_entry_per_shot():
    with pytest.raises(ValueError, match="3 shots"):
        apply_shot_moods(three_shots(), NoEmbedder(), ["calm"])
