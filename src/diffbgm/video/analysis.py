"""One pass over a video: frames, shots, dynamic features, image embeddings, shot captions and moods.

The video is decoded once, at the analysis rate, into small frames that stream through the shot
detector, the dynamic features and (on a sparser grid, as it is the expensive part) the image
encoder. Only per-frame numbers, sparse embeddings and small thumbnails are kept, so memory stays
flat on long videos. Results can be cached by the file's content hash and the configuration.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from diffbgm.conditions.mood import Mood
from diffbgm.video.decode import VideoError, iter_frames, probe_video, stream_timing
from diffbgm.video.dynamics import DynamicsExtractor, mark_cuts
from diffbgm.video.edits import SourceLuma, Transition, find_edits
from diffbgm.video.shots import ShotDetector, ShotList
from diffbgm.video.transitions import GridSignals

logger = logging.getLogger(__name__)

ANALYSIS_FILE = "analysis.json"
FEATURES_FILE = "features.npz"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class AnalysisConfig:
    """How a video is analysed (every field is part of the cache key).

    Parameters
    ----------
    fps : analysis frames per second of video.
    max_side : longer side of the decoded analysis frames, in pixels.
    detector, threshold, min_shot_s : PySceneDetect detector name, its threshold (None: our default,
        see :mod:`diffbgm.video.shots`) and the shortest shot in seconds.
    flow_width : width of the grey frames used for optical flow.
    embed_fps : frames per second given to the image encoder; the other analysis frames take the
        embeddings interpolated within their shot.
    thumbnail_every_s, thumbnail_height : thumbnails kept for the timeline picture.
    label_count : ImageNet labels per shot used for its caption.
    """

    fps: float = 8.0
    max_side: int = 256
    detector: str = "content"
    threshold: float | None = None
    min_shot_s: float = 0.5
    flow_width: int = 128
    embed_fps: float = 2.0
    thumbnail_every_s: float = 1.0
    thumbnail_height: int = 54
    label_count: int = 2

    def key(self) -> str:
        """A short stable digest of the configuration and of :data:`ANALYSIS_VERSION`."""
        text = json.dumps({"version": ANALYSIS_VERSION, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


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


# Part of every cache key: bump it whenever a change to the analysis changes its results, so that a
# cached analysis from an older diffbgm is not served (2: no cut within min_shot_s of the end;
# 3: the stream's own length, frame-exact cuts, transitions and accents).
ANALYSIS_VERSION = 3


def file_hash(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """BLAKE2b digest of a file's bytes (the cache key: a renamed or copied file still hits)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def _cache_entry(cache_dir: Path, content_hash: str, config: AnalysisConfig, cuts: ShotList | None) -> Path:
    key = config.key()
    if cuts is not None:
        cut_text = json.dumps([round(t, 6) for t in cuts.cuts_s])
        key += "-" + hashlib.blake2b(cut_text.encode(), digest_size=6).hexdigest()
    return cache_dir / f"{content_hash}-{key}"


def _interpolate_in_shots(sample_index: np.ndarray, samples: np.ndarray, shot_of_frame: np.ndarray) -> np.ndarray:
    """Per-frame rows from rows at ``sample_index``, linear between samples of the same shot.

    A frame whose shot has samples on one side only takes the nearest; a shot with no sample at all
    (shorter than the sampling step) takes the nearest sample in time.
    """
    n = len(shot_of_frame)
    out = np.empty((n, samples.shape[1]), np.float32)
    shot_of_sample = shot_of_frame[sample_index]
    for shot in np.unique(shot_of_frame):
        frames = np.flatnonzero(shot_of_frame == shot)
        inside = np.flatnonzero(shot_of_sample == shot)
        if len(inside) == 0:
            nearest = np.abs(sample_index[None, :] - frames[:, None]).argmin(axis=1)
            out[frames] = samples[nearest]
            continue
        positions = sample_index[inside]
        right = np.clip(np.searchsorted(positions, frames), 1, max(1, len(positions) - 1))
        if len(positions) == 1:
            out[frames] = samples[inside[0]]
            continue
        left = right - 1
        span = (positions[right] - positions[left]).astype(np.float32)
        weight = np.clip((frames - positions[left]) / span, 0.0, 1.0)[:, None]
        out[frames] = (1 - weight) * samples[inside[left]] + weight * samples[inside[right]]
    return out


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


def _describe_shots(
    analysis: VideoAnalysis,
    encoder,
    label_count: int,
) -> None:
    """Fill in shot labels, captions and moods from the per-frame arrays."""
    from diffbgm.video.captions import caption_shot
    from diffbgm.video.mood import mood_for_shot
    from diffbgm.video.semantic import mean_embedding

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


def _run_analysis(
    path: Path,
    config: AnalysisConfig,
    encoder,
    cuts: ShotList | None,
    progress: bool,
) -> VideoAnalysis:
    info = probe_video(path)
    detector = None if cuts is not None else ShotDetector(config.fps, config.detector, config.threshold, config.min_shot_s)
    signals = None if cuts is not None else GridSignals()
    source_luma = None if cuts is not None else SourceLuma()
    dynamics = DynamicsExtractor(config.fps, flow_width=config.flow_width)
    embed_step = max(1, round(config.fps / config.embed_fps))
    thumb_step = max(1, round(config.fps * config.thumbnail_every_s))
    batch: list[np.ndarray] = []
    embedded: list[np.ndarray] = []
    sample_index: list[int] = []
    thumbnails: list[np.ndarray] = []
    thumbnail_times: list[float] = []
    times: list[float] = []
    expected = math.ceil(info.duration_s * config.fps) if info.duration_s > 0 else None
    bar = tqdm(total=expected, disable=not progress, unit="frame", desc=f"analysing {path.name}", leave=False)
    try:
        for frame in iter_frames(path, fps=config.fps, max_side=config.max_side, on_source_frame=source_luma):
            times.append(frame.time_s)
            if detector is not None:
                detector.push(frame.time_s, frame.rgb)
                signals.push(frame.rgb)
            dynamics.push(frame.rgb)
            if frame.index % embed_step == 0:
                batch.append(frame.rgb)
                sample_index.append(frame.index)
                if len(batch) == 16:
                    embedded.append(encoder.embed(np.stack(batch)))
                    batch = []
            if frame.index % thumb_step == 0:
                height, width = frame.rgb.shape[:2]
                thumb_width = max(2, round(width * config.thumbnail_height / height))
                thumbnails.append(cv2.resize(frame.rgb, (thumb_width, config.thumbnail_height), interpolation=cv2.INTER_AREA))
                thumbnail_times.append(frame.time_s)
            bar.update(1)
    finally:
        bar.close()
    if batch:
        embedded.append(encoder.embed(np.stack(batch)))
    frame_times = np.asarray(times, np.float64)
    timing = stream_timing(path)
    duration_s = timing.end_s
    edits = None
    if cuts is not None:
        shot_list = cuts
    else:
        edits = find_edits(path, signals, frame_times, detector.finish(), timing, config.fps, source_luma)
        # No boundary within min_shot_s of the video's end: no shot worth scoring.
        boundaries = [t for t in edits.boundaries_s if t <= duration_s - config.min_shot_s]
        shot_list = ShotList(tuple(boundaries), duration_s)
    shot_list = ShotList(shot_list.cuts_s, duration_s)
    cut_indices = np.searchsorted(frame_times, np.asarray(shot_list.cuts_s) - 1e-6)
    features = mark_cuts(dynamics.finish(), cut_indices)
    shot_of_frame = np.searchsorted(np.asarray(shot_list.cuts_s), frame_times, side="right")
    embeddings = _interpolate_in_shots(np.asarray(sample_index), np.concatenate(embedded), shot_of_frame)
    analysis = VideoAnalysis(
        duration_s=duration_s,
        fps=info.fps,
        width=info.width,
        height=info.height,
        frame_times=frame_times.astype(np.float32),
        cuts_s=list(shot_list.cuts_s),
        shots=shot_list.shots,
        features=features,
        image_embeddings=embeddings,
        shot_captions=[],
        shot_moods=[],
        thumbnails=np.stack(thumbnails),
        thumbnail_times=np.asarray(thumbnail_times, np.float32),
        source=str(path),
        config=dataclasses.asdict(config),
        transitions=edits.transitions if edits else [],
        accents_s=edits.accents_s if edits else [],
    )
    _describe_shots(analysis, encoder, config.label_count)
    return analysis


def apply_user_text(
    analysis: VideoAnalysis,
    captions: str | Sequence[str] | None = None,
    mood: str | None = None,
    device: str = "cpu",
) -> VideoAnalysis:
    """Replace shot captions by the user's (one for all shots, or one per shot) and/or every shot's
    mood by the mood of the user's words (e.g. ``"calm, warm"``). Returns a new analysis."""
    from diffbgm.video.captions import resolve_shot_captions

    result = dataclasses.replace(analysis)
    result.shot_captions = resolve_shot_captions(captions, analysis.shot_captions)
    if mood is not None:
        from diffbgm.conditions.text import SentenceEmbedder
        from diffbgm.video.mood import mood_from_text

        user_mood = mood_from_text(mood, SentenceEmbedder(device=device))
        result.shot_moods = [user_mood] * len(analysis.shots)
    return result


def analyze_video(
    path: str | Path,
    config: AnalysisConfig = AnalysisConfig(),
    progress: bool = True,
    cache_dir: str | Path | None = None,
    cuts: ShotList | Sequence[float] | None = None,
    captions: str | Sequence[str] | None = None,
    mood: str | None = None,
    encoder=None,
    device: str = "cpu",
) -> VideoAnalysis:
    """Analyse a video (see the module docstring).

    Parameters
    ----------
    path : the video file; it is only read.
    config : analysis settings.
    progress : show a progress bar on stderr.
    cache_dir : where results are cached by content hash and config (None: no cache).
    cuts : the user's own shot boundaries (times in s, or a ShotList) instead of detection.
    captions : the user's caption for the whole video, or one per shot; replaces the automatic ones.
    mood : the user's mood words for the whole video (e.g. ``"calm, warm"``).
    encoder : an image encoder with ``embed`` and ``top_labels`` (default: EfficientNet-Lite0 on ``device``).
    device : torch device for the default encoder and the mood-word embedder.

    Raises
    ------
    VideoError
        The file is not a readable video (not a video, truncated, zero-length, audio only).
    """
    path = Path(path)
    info = probe_video(path)
    if cuts is not None and not isinstance(cuts, ShotList):
        cuts = ShotList(tuple(float(t) for t in cuts), info.duration_s or math.inf)
    if cuts is not None and captions is not None and not isinstance(captions, str):
        from diffbgm.video.captions import resolve_shot_captions

        # Fail before the expensive part when the shot count is already known.
        resolve_shot_captions(captions, [""] * len(cuts.shots))
    entry = None
    content_hash = ""
    if cache_dir is not None:
        content_hash = file_hash(path)
        entry = _cache_entry(Path(cache_dir), content_hash, config, cuts)
        if (entry / ANALYSIS_FILE).is_file() and (entry / FEATURES_FILE).is_file():
            try:
                analysis = VideoAnalysis.load(entry)
            except (OSError, ValueError, KeyError) as error:
                logger.warning("ignoring unreadable cache entry %s: %s", entry, error)
            else:
                logger.info("analysis of %s from cache %s", path, entry)
                analysis.source = str(path)
                return apply_user_text(analysis, captions, mood, device)
    if encoder is None:
        from diffbgm.video.semantic import EfficientNetLite0Encoder

        encoder = EfficientNetLite0Encoder(device=device)
    analysis = _run_analysis(path, config, encoder, cuts, progress)
    analysis.source_hash = content_hash
    if entry is not None:
        _store(analysis, entry)
    return apply_user_text(analysis, captions, mood, device)


def _store(analysis: VideoAnalysis, entry: Path) -> None:
    """Save into the cache atomically: a temp folder beside the entry, renamed into place."""
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".partial-", dir=entry.parent))
    try:
        analysis.save(staging)
        os.replace(staging, entry)
    except OSError as error:
        # Another process may have stored the same entry first; the cache is only an optimisation.
        logger.warning("could not cache analysis at %s: %s", entry, error)
        shutil.rmtree(staging, ignore_errors=True)


__all__ = ["AnalysisConfig", "VideoAnalysis", "VideoError", "analyze_video", "apply_user_text", "file_hash"]
