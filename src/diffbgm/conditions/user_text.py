"""The user's own words: mood text mapped onto the mood vocabulary, and captions put on the shots.

Free mood text ("calm, warm", "a quiet sea") is split into phrases; known mood words are taken as
they are and any other phrase goes to the mood word whose sentence embedding is nearest. Words of pace
("slow", "fast") move only the arousal: they are no mood of their own, and the nearest mood word of
"a fast mood" is "calm", which made "energetic, happy, fast" calmer than "energetic, happy". The text
encoder is the one of the semantic stream, passed in by the caller.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np

from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.music.mood import MOOD_WORDS, Mood, mood_from_words
from diffbgm.video.analysis import VideoAnalysis
from diffbgm.video.captions import resolve_shot_captions

# Phrases and mood words are embedded inside the same short template: bare single words embed
# noisily with MiniLM (e.g. "melancholy" lands on "nostalgic"), "a melancholy mood" lands on "sad".
_MOOD_TEMPLATE = "a {} mood"
# Pace words -> arousal in [-1, 1] (Russell's arousal axis: fast music reads aroused, slow calm;
# Gabrielsson & Lindstroem 2010). They say nothing of valence, so they leave it to the mood words.
PACE_WORDS: dict[str, float] = {
    "slow": -0.7, "slower": -0.7, "leisurely": -0.6, "relaxed": -0.6, "unhurried": -0.6,
    "fast": 0.8, "faster": 0.8, "quick": 0.7, "rapid": 0.8, "upbeat": 0.7, "lively": 0.7, "driving": 0.8,
}


def split_phrases(text: str) -> list[str]:
    """Split free text into mood phrases at commas, semicolons, slashes, newlines and "and"."""
    parts = re.split(r"[,;/\n]|\band\b", text.lower())
    return [" ".join(part.split()) for part in parts if part.strip()]


def mood_words_from_text(text: str, embedder: SentenceEmbedder) -> list[str]:
    """Map the user's words onto ``MOOD_WORDS``, one word per phrase.

    A phrase that contains known mood words contributes those words; a phrase of pace words only
    (:data:`PACE_WORDS`, read by :func:`pace_arousals`) contributes none; any other phrase contributes
    the mood word whose sentence embedding is most similar (cosine) to the phrase's, both embedded
    in the template ``"a {} mood"``.
    """
    phrases = split_phrases(text)
    if not phrases:
        raise ValueError("mood text is empty; give words such as 'calm, warm'")
    words: list[str] = []
    unknown: list[str] = []
    for phrase in phrases:
        tokens = re.findall(r"[a-z]+", phrase)
        exact = [w for w in tokens if w in MOOD_WORDS]
        if exact:
            words.extend(exact)
        elif not any(w in PACE_WORDS for w in tokens):
            unknown.append(phrase)
    if unknown:
        vocabulary = list(MOOD_WORDS)
        # Embeddings are unit vectors, so the dot product is the cosine similarity.
        phrases_emb = embedder.embed([_MOOD_TEMPLATE.format(p) for p in unknown])
        vocabulary_emb = embedder.embed([_MOOD_TEMPLATE.format(w) for w in vocabulary])
        similarity = phrases_emb @ vocabulary_emb.T
        words.extend(vocabulary[i] for i in similarity.argmax(axis=1))
    return words


def pace_arousals(text: str) -> list[float]:
    """The arousal of every pace word in ``text`` (:data:`PACE_WORDS`), in order."""
    return [PACE_WORDS[w] for phrase in split_phrases(text) for w in re.findall(r"[a-z]+", phrase) if w in PACE_WORDS]


def mood_from_text(text: str, embedder: SentenceEmbedder) -> Mood:
    """The mood of the words in ``text`` (e.g. ``"calm, warm"``, ``"sad, slow"``): the mean of its mood
    words (:func:`mood_words_from_text`), with its pace words (:func:`pace_arousals`) averaged into the
    arousal only."""
    words = mood_words_from_text(text, embedder)
    pace = pace_arousals(text)
    if not words:
        return Mood(0.0, float(np.mean(pace)))
    mood = mood_from_words(words)
    return Mood(mood.valence, float(np.mean([MOOD_WORDS[w][1] for w in words] + pace)))


def apply_user_text(
    analysis: VideoAnalysis,
    embedder: SentenceEmbedder,
    captions: str | Sequence[str] | None = None,
    mood: str | None = None,
) -> VideoAnalysis:
    """Replace shot captions by the user's (one for all shots, or one per shot) and/or every shot's
    mood by the mood of the user's words (e.g. ``"calm, warm"``). Returns a new analysis.

    The user's captions reach the music through the mood too: without mood words, each captioned shot
    takes the mood its caption reads as (a caption is the user's word on what the shot is; "a funeral
    in the rain" is not scored as a wedding), and the picture's mood where the caption is empty.
    """
    result = dataclasses.replace(analysis)
    result.shot_captions = resolve_shot_captions(captions, analysis.shot_captions)
    if mood is not None:
        result.shot_moods = [mood_from_text(mood, embedder)] * len(analysis.shots)
    elif captions is not None:
        given = [captions] * len(analysis.shots) if isinstance(captions, str) else list(result.shot_captions)
        result.shot_moods = [mood_from_text(text, embedder) if text.strip() else picture
                             for text, picture in zip(given, analysis.shot_moods)]
    return result


def apply_shot_moods(analysis: VideoAnalysis, embedder: SentenceEmbedder,
                     moods: Sequence[str | None]) -> VideoAnalysis:
    """Give each shot the mood of the user's words for it (``None``: the shot keeps its mood).

    Raises ValueError unless there is one entry per shot, or for words that are empty.
    """
    if len(moods) != len(analysis.shots):
        raise ValueError(f"mood words for {len(moods)} shots given; the video has {len(analysis.shots)} shots")
    result = dataclasses.replace(analysis)
    result.shot_moods = [kept if words is None else mood_from_text(words, embedder)
                         for words, kept in zip(moods, analysis.shot_moods)]
    return result
