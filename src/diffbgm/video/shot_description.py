"""Each shot described from the per-frame arrays: its ImageNet labels, a caption and a mood."""

from __future__ import annotations

import numpy as np

from diffbgm.video.captions import caption_shot
from diffbgm.video.image_model import mean_embedding
from diffbgm.video.mood import mood_for_shot
from diffbgm.video.record import VideoAnalysis


def _shot_statistics(features: dict[str, np.ndarray], shot_of_frame: np.ndarray, shots: list, index: int) -> dict:
    mask = shot_of_frame == index
    if not mask.any():
        # A shot shorter than one analysis frame: take the frame just before it.
        mask = np.zeros_like(mask)
        mask[max(0, np.searchsorted(shot_of_frame, index) - 1)] = True
    stats = {name: float(features[name][mask].mean()) for name in ("brightness", "saturation", "colourfulness", "warmth")}
    # Motion in frame widths per second; one width a second is already very fast.
    stats["motion"] = float(min(features["motion"][mask].mean(), 1.0))
    start, end = shots[index]
    neighbours = [t for t in (start, end) if 0 < t < shots[-1][1]]
    stats["cut_rate"] = len(neighbours) / max(end - start, 1e-3) / 2.0
    return stats


def describe_shots(
    analysis: VideoAnalysis,
    encoder,
    label_count: int,
) -> None:
    """Fill in shot labels, captions and moods from the per-frame arrays."""
    shot_of_frame = analysis.shot_index()
    labels, captions, moods = [], [], []
    for index in range(len(analysis.shots)):
        stats = _shot_statistics(analysis.features, shot_of_frame, analysis.shots, index)
        rows = analysis.image_embeddings[shot_of_frame == index]
        shot_labels = encoder.top_labels(mean_embedding(rows)[None], label_count)[0] if len(rows) else []
        labels.append(shot_labels)
        captions.append(caption_shot(shot_labels, stats, stats["motion"]))
        moods.append(mood_for_shot(stats))
    analysis.shot_labels, analysis.shot_captions, analysis.shot_moods = labels, captions, moods
