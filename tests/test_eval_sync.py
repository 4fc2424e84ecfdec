"""The end-to-end sync benchmark (benchmarks/eval_sync.py) on two tiny clips of its corpus, without
diffusion: the corpus builds, the analysis and the planner run, and the figures come out sane."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from eval_sync import MOODS, config_for_mood, plan_sync, plan_with_mood, summarise  # noqa: E402
from eval_sync_video import BlankEncoder, corpus, score  # noqa: E402
from footage import write_clip  # noqa: E402

from diffbgm.conditions.text import SentenceEmbedder  # noqa: E402
from diffbgm.video.analysis import AnalysisConfig, analyze_video  # noqa: E402

REQUIRED_CLASSES = {"hard cuts", "frame rates", "fades", "dissolves", "flash frames", "pans/zooms/shake",
                    "short and long shots", "VFR", "delayed first frame", "rotation", "1-s clip"}


def test_corpus_covers_every_class() -> None:
    clips = corpus()
    assert len(clips) >= 24
    assert {kind for kind, *_ in clips} >= REQUIRED_CLASSES
    assert "10-min clip" in {kind for kind, *_ in corpus(long=True)}


@pytest.mark.parametrize("name", ["one0", "dip"])
def test_tiny_clips_are_planned_and_scored(tmp_path, name) -> None:
    kind, name, clip, suffix = next(c for c in corpus() if c[1] == name)
    truth = write_clip(tmp_path / f"{name}{suffix}", clip)
    analysis = analyze_video(tmp_path / f"{name}{suffix}", AnalysisConfig(), progress=False, encoder=BlankEncoder())
    embedder = SentenceEmbedder()
    plan = plan_with_mood(analysis, embedder, None)
    # Notes struck on every bar line: a boundary is struck where it is on a downbeat.
    sync = plan_sync(truth, plan, config_for_mood(analysis, embedder, None), plan.downbeats_s)
    assert sync["struck"] == sync["true_on_downbeat"]
    found = score(truth, analysis)
    row = dict(found, cut_errors_frames=found["errors"], mp4_audio_ok=True, wav_ok=True, longer=False,
               decoded_over_s=0.0, **sync)
    summary = summarise([row])
    assert abs(plan.duration_s - truth.length_s) <= truth.frame_period_s
    assert summary["boundaries"] == len(truth.boundaries_s) >= 1
    assert summary["cut_within_1_frame"] == 1.0
    assert len(sync["true_on_downbeat"]) == len(truth.boundaries_s)
    assert 0 <= sync["reachable"] <= len(truth.boundaries_s)
    # A boundary on a downbeat is on a beat too.
    assert all(b for d, b in zip(sync["true_on_downbeat"], sync["true_on_beat"]) if d)
    assert sync["max_tempo_step"] <= config_for_mood(analysis, embedder, None).max_tempo_step + 1e-9
    calm, energetic = (np.median(plan_with_mood(analysis, embedder, mood).bar_bpm) for mood in MOODS)
    assert energetic > calm
