"""The record of a video's analysis: what the music side needs to know, and its two files on disk."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from diffbgm.music.mood import Mood
from diffbgm.video.edits import Transition
from diffbgm.video.shots import ShotList

ANALYSIS_FILE = "analysis.json"
FEATURES_FILE = "features.npz"
FORMAT_VERSION = 1


@dataclass
class VideoAnalysis:
    """Everything the music side needs to know about a video.

    ``frame_times`` (N,) are the analysis grid in seconds; every array in ``features`` and
    ``image_embeddings`` (N, 1280) is aligned with it. ``shots`` are ``(start_s, end_s)`` covering
    ``[0, duration_s]``; ``shot_captions`` and ``shot_moods`` have one entry per shot. ``fps``,
    ``width`` and ``height`` describe the source video (display size, after rotation);
    ``duration_s`` is the video stream's own length (the end of its last frame), not the grid's.
    ``cuts_s`` are the musical boundaries: frame-exact hard cuts and the chosen points of the
    ``transitions`` (fades, dissolves); ``accents_s`` are flash frames and blinks of a shot.
    """

    duration_s: float
    fps: float
    width: int
    height: int
    frame_times: np.ndarray
    cuts_s: list[float]
    shots: list[tuple[float, float]]
    features: dict[str, np.ndarray]
    image_embeddings: np.ndarray
    shot_captions: list[str]
    shot_moods: list[Mood]
    shot_labels: list[list[str]] = field(default_factory=list)
    thumbnails: np.ndarray = field(default_factory=lambda: np.zeros((0, 1, 1, 3), np.uint8))
    thumbnail_times: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    source: str = ""
    source_hash: str = ""
    config: dict = field(default_factory=dict)
    transitions: list[Transition] = field(default_factory=list)
    accents_s: list[float] = field(default_factory=list)

    @property
    def shot_list(self) -> ShotList:
        return ShotList(tuple(self.cuts_s), self.duration_s)

    def shot_index(self) -> np.ndarray:
        """(N,) the shot each analysis frame belongs to."""
        return np.searchsorted(np.asarray(self.cuts_s), self.frame_times, side="right")

    def save(self, directory: str | Path) -> Path:
        """Write ``analysis.json`` (metadata, shots, captions, moods) and ``features.npz`` into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {
            "format_version": FORMAT_VERSION,
            "source": self.source,
            "source_hash": self.source_hash,
            "duration_s": self.duration_s,
            "fps": self.fps,
            "width": self.width,
            "height": self.height,
            "analysis_fps": self.config.get("fps"),
            "n_frames": int(len(self.frame_times)),
            "cuts_s": list(self.cuts_s),
            "transitions": [t.to_dict() for t in self.transitions],
            "accents_s": list(self.accents_s),
            "shots": [
                {
                    "start_s": start,
                    "end_s": end,
                    "caption": caption,
                    "mood": {"valence": mood.valence, "arousal": mood.arousal, "words": mood.nearest_words(2)},
                    "labels": labels,
                }
                for (start, end), caption, mood, labels in zip(
                    self.shots, self.shot_captions, self.shot_moods, self._labels()
                )
            ],
            "features": sorted(self.features),
            "config": self.config,
        }
        (directory / ANALYSIS_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        arrays = {f"feature_{name}": values for name, values in self.features.items()}
        np.savez(
            directory / FEATURES_FILE,
            frame_times=self.frame_times,
            image_embeddings=self.image_embeddings,
            thumbnails=self.thumbnails,
            thumbnail_times=self.thumbnail_times,
            **arrays,
        )
        return directory

    def _labels(self) -> list[list[str]]:
        return self.shot_labels if len(self.shot_labels) == len(self.shots) else [[] for _ in self.shots]

    @classmethod
    def load(cls, directory: str | Path) -> VideoAnalysis:
        """Read what :meth:`save` wrote."""
        directory = Path(directory)
        meta = json.loads((directory / ANALYSIS_FILE).read_text())
        with np.load(directory / FEATURES_FILE) as arrays:
            features = {name: arrays[f"feature_{name}"] for name in meta["features"]}
            frame_times = arrays["frame_times"]
            embeddings = arrays["image_embeddings"]
            thumbnails = arrays["thumbnails"]
            thumbnail_times = arrays["thumbnail_times"]
        shots = meta["shots"]
        return cls(
            duration_s=meta["duration_s"],
            fps=meta["fps"],
            width=meta["width"],
            height=meta["height"],
            frame_times=frame_times,
            cuts_s=list(meta["cuts_s"]),
            shots=[(s["start_s"], s["end_s"]) for s in shots],
            features=features,
            image_embeddings=embeddings,
            shot_captions=[s["caption"] for s in shots],
            shot_moods=[Mood(s["mood"]["valence"], s["mood"]["arousal"]) for s in shots],
            shot_labels=[list(s.get("labels", [])) for s in shots],
            thumbnails=thumbnails,
            thumbnail_times=thumbnail_times,
            source=meta.get("source", ""),
            source_hash=meta.get("source_hash", ""),
            config=meta.get("config", {}),
            # Analyses saved before transitions and accents existed have neither.
            transitions=[Transition.from_dict(t) for t in meta.get("transitions", [])],
            accents_s=[float(t) for t in meta.get("accents_s", [])],
        )
