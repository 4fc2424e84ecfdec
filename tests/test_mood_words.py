"""Mood words change the music: "sad" against "happy" through the pipeline's own paths.

The tempo comes from the planner alone (no model); the conditions and the key from one generation per
mood of a small real-photo video with the shipped model (one seed, few steps), read as
benchmarks/eval_mood.py reads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from eval_mood import MOODS, figures  # noqa: E402
from eval_sync_video import BlankEncoder  # noqa: E402
from footage import Camera, Clip, Cut, Shot, write_clip  # noqa: E402

from diffbgm.conditions.dynamic import DYNAMIC_FEATURES  # noqa: E402
from diffbgm.conditions.user_text import mood_from_text  # noqa: E402
from diffbgm.music.planner import plan_timing  # noqa: E402
from diffbgm.music.timing import timing_config  # noqa: E402
from diffbgm.pipeline import GenerationOptions, ScoringPipeline  # noqa: E402
from diffbgm.pipeline.scoring import DEFAULT_WEIGHTS  # noqa: E402

SAD, HAPPY = MOODS["sad"], MOODS["happy"]
CALM, ENERGETIC = "calm, sad, slow", "energetic, happy, fast"
# What the words must move, in the units of the conditions (register 0.1 = 4.8 semitones asked for).
MIN_REGISTER_GAP, MIN_DENSITY_GAP, MIN_TEMPO_GAP_BPM = 0.1, 0.1, 20.0


class NoEmbedder:
    """Every word here is a mood or pace word: none may need an embedding."""

    def embed(self, texts):
        raise AssertionError(f"embedded {texts!r}")


@pytest.mark.parametrize("slow, fast", [(SAD, HAPPY), (CALM, ENERGETIC)])
def test_mood_words_move_the_planned_tempo_past_cuts_that_suit_one_tempo(slow, fast):
    # Cuts 2.1 s apart suit about 114 BPM (one bar each), inside both moods' ranges: the words decide.
    duration, cuts = 8.8, [2.1, 4.2, 6.3]
    tempi = []
    for words in (slow, fast):
        mood = mood_from_text(words, NoEmbedder())
        config = timing_config(arousal=mood.arousal, valence=mood.valence, motion=0.05, worded=True)
        plan = plan_timing(duration, cuts, config)
        tempi.append(plan.tempo_bpm)
    assert tempi[1] - tempi[0] >= MIN_TEMPO_GAP_BPM


@pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped model")
def test_sad_and_happy_words_reach_the_conditions_and_the_key(tmp_path):
    # 8.3 s, long enough for a tempo to be heard; the cut at 4.2 s suits about 114 BPM.
    clip = Clip((Shot("astronaut", 101, Camera((0.45, 0.45, 0.7), (0.55, 0.5, 0.65))),
                 Shot("coffee", 99, Camera((0.5, 0.5, 0.8), (0.45, 0.55, 0.75)))), (Cut(),), fps=24.0)
    write_clip(tmp_path / "clip.mp4", clip)
    pipeline = ScoringPipeline.from_checkpoint(None, image_encoder=BlankEncoder())
    sad, happy = (pipeline.generate(tmp_path / "clip.mp4", GenerationOptions(seed=0, steps=4, mood=words))
                  for words in (SAD, HAPPY))
    density, register = DYNAMIC_FEATURES.index("density"), DYNAMIC_FEATURES.index("register")
    assert happy.score.dynamic[:, register].mean() - sad.score.dynamic[:, register].mean() >= MIN_REGISTER_GAP
    assert happy.score.dynamic[:, density].mean() - sad.score.dynamic[:, density].mean() >= MIN_DENSITY_GAP
    assert happy.score.intensity.mean() > sad.score.intensity.mean()
    assert happy.plan.tempo_bpm - sad.plan.tempo_bpm >= MIN_TEMPO_GAP_BPM
    for result, mode in ((sad, "minor"), (happy, "major")):
        measured = figures(result)  # as benchmarks/eval_mood.py reads a result
        # The mode heard (the notes held to the mood's mode, then the cadence). The model's own notes
        # before that follow the mood in 6 of 6 runs of benchmarks/eval_mood.py, not in every seed of
        # this 8-s clip (stage 8, seed 0: minor before the mode is settled), so they are the benchmark's.
        assert measured["told"] == mode and measured["mode"] == mode
        assert measured["empty"] == 0.0
