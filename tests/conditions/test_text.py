"""The sentence embedder loads its model once, on a thread when asked, and fails clearly when it cannot."""

from __future__ import annotations

import numpy as np
import pytest

from diffbgm.conditions.text import SentenceEmbedder

TEXTS = ["a calm shot of the sea", "a busy street at night"]


def test_a_model_loaded_in_the_background_embeds_as_one_loaded_on_demand():
    background = SentenceEmbedder()
    background.load_in_background()
    background.load_in_background()  # a second call starts no second load
    on_demand = SentenceEmbedder()
    np.testing.assert_array_equal(background.embed(TEXTS), on_demand.embed(TEXTS))
    assert background._loader is not None and not background._loader.is_alive()


def test_a_missing_model_fails_in_embed_not_in_the_background(tmp_path):
    embedder = SentenceEmbedder(tmp_path / "no-such-model")
    embedder.load_in_background()
    embedder._loader.join()
    with pytest.raises(FileNotFoundError, match="sentence model directory not found"):
        embedder.embed(TEXTS)
