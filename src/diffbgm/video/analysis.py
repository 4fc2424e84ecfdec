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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from diffbgm.video import cache
from diffbgm.video.decode import VideoError, iter_frames, probe_video, stream_timing
from diffbgm.video.dynamics import DynamicsExtractor, mark_cuts
from diffbgm.video.edits import SourceLuma, find_edits
from diffbgm.video.embedding_queue import EmbeddingQueue
from diffbgm.video.record import ANALYSIS_FILE, FEATURES_FILE, VideoAnalysis
from diffbgm.video.shot_description import describe_shots
from diffbgm.video.shots import ShotDetector, ShotList
from diffbgm.video.source_changes import SourceChanges
from diffbgm.video.transitions import GridSignals

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class AnalysisConfig:
    """How a video is analysed (every field is part of the cache key).

    Parameters
    ----------
    fps : analysis frames per second of video.
    max_side : longer side of the decoded analysis frames, in pixels.
    detector, threshold : PySceneDetect detector name and its threshold (None: our default, see
        :mod:`diffbgm.video.shots`).
    min_shot_s : the shortest last shot in seconds: a boundary closer to the video's end is an accent.
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


# Part of every cache key: bump it whenever a change to the analysis changes its results, so that a
# cached analysis from an older diffbgm is not served (2: no cut within min_shot_s of the end;
# 3: the stream's own length, frame-exact cuts, transitions and accents; 4: late detector cuts found,
# a cut near the end an accent; 5: cuts placed from every source frame scored in the one pass;
# 6: DIS optical flow, every detector candidate refined; 7: a shorter shot beside a found cut;
# 8: dissolves between moving shots; 9: a cut at the end of a fast pan; 10: dips to white, montages;
# 11: a neutral band in the picture's valence; 12: wipes; 13: a cut and a dissolve around plain
# frames are one dip).
ANALYSIS_VERSION = 13


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


def _run_analysis(
    path: Path,
    config: AnalysisConfig,
    encoder,
    cuts: ShotList | None,
    progress: bool,
) -> VideoAnalysis:
    info = probe_video(path)
    # The detector only proposes candidates, which find_edits confirms on the source frames and spaces
    # out (MIN_BOUNDARY_GAP_S): its own shortest scene would silence a true cut that follows a false
    # candidate (a fast move just before it) within min_shot_s.
    detector = None if cuts is not None else ShotDetector(config.fps, config.detector, config.threshold, min_shot_s=0.0)
    signals = None if cuts is not None else GridSignals()
    source_luma = None if cuts is not None else SourceLuma()
    source_changes = None if cuts is not None else SourceChanges()

    def on_source_frame(time_s: float, frame) -> None:
        source_luma(time_s, frame)
        source_changes(time_s, frame)

    dynamics = DynamicsExtractor(config.fps, flow_width=config.flow_width)
    embed_step = max(1, round(config.fps / config.embed_fps))
    thumb_step = max(1, round(config.fps * config.thumbnail_every_s))
    embeddings_queue = EmbeddingQueue(encoder)
    sample_index: list[int] = []
    thumbnails: list[np.ndarray] = []
    thumbnail_times: list[float] = []
    times: list[float] = []
    expected = math.ceil(info.duration_s * config.fps) if info.duration_s > 0 else None
    bar = tqdm(total=expected, disable=not progress, unit="frame", desc=f"analysing {path.name}", leave=False)
    try:
        watch = None if cuts is not None else on_source_frame
        for frame in iter_frames(path, fps=config.fps, max_side=config.max_side, on_source_frame=watch):
            times.append(frame.time_s)
            if detector is not None:
                detector.push(frame.time_s, frame.rgb)
                signals.push(frame.rgb)
            dynamics.push(frame.rgb)
            if frame.index % embed_step == 0:
                embeddings_queue.push(frame.rgb)
                sample_index.append(frame.index)
            if frame.index % thumb_step == 0:
                height, width = frame.rgb.shape[:2]
                thumb_width = max(2, round(width * config.thumbnail_height / height))
                thumbnails.append(cv2.resize(frame.rgb, (thumb_width, config.thumbnail_height), interpolation=cv2.INTER_AREA))
                thumbnail_times.append(frame.time_s)
            bar.update(1)
        bar.close()
        # The encoder's worker may still be busy: the edits are found meanwhile.
        frame_times = np.asarray(times, np.float64)
        timing = stream_timing(path)
        duration_s = timing.end_s
        edits = None
        accents_s: list[float] = []
        if cuts is not None:
            shot_list = cuts
        else:
            edits = find_edits(source_changes.finish(), signals, frame_times, detector.finish(), timing, config.fps, source_luma)
            # No boundary within min_shot_s of the video's end: no shot worth scoring, but the picture
            # still changes there, so the music marks it with an accent.
            last_start_s = duration_s - config.min_shot_s
            boundaries = [t for t in edits.boundaries_s if t <= last_start_s]
            accents_s = sorted(set(edits.accents_s) | {t for t in edits.boundaries_s if t > last_start_s})
            shot_list = ShotList(tuple(boundaries), duration_s)
        shot_list = ShotList(shot_list.cuts_s, duration_s)
    except BaseException:
        bar.close()
        embeddings_queue.close()
        raise
    sampled = embeddings_queue.finish()
    cut_indices = np.searchsorted(frame_times, np.asarray(shot_list.cuts_s) - 1e-6)
    features = mark_cuts(dynamics.finish(), cut_indices)
    shot_of_frame = np.searchsorted(np.asarray(shot_list.cuts_s), frame_times, side="right")
    embeddings = _interpolate_in_shots(np.asarray(sample_index), sampled, shot_of_frame)
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
        accents_s=accents_s,
    )
    describe_shots(analysis, encoder, config.label_count)
    return analysis


def analyze_video(
    path: str | Path,
    config: AnalysisConfig = AnalysisConfig(),
    progress: bool = True,
    cache_dir: str | Path | None = None,
    cuts: ShotList | Sequence[float] | None = None,
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
    encoder : an image encoder with ``embed`` and ``top_labels`` (default: EfficientNet-Lite0 on ``device``);
        a caller that analyses several videos passes its own, loaded once.
    device : torch device for the default encoder.

    The user's captions and mood words are put on the result by
    :func:`diffbgm.conditions.user_text.apply_user_text`.

    Raises
    ------
    VideoError
        The file is not a readable video (not a video, truncated, zero-length, audio only).
    """
    path = Path(path)
    info = probe_video(path)
    if cuts is not None and not isinstance(cuts, ShotList):
        cuts = ShotList(tuple(float(t) for t in cuts), info.duration_s or math.inf)
    entry = None
    content_hash = ""
    if cache_dir is not None:
        content_hash = cache.file_hash(path)
        entry = cache.cache_entry(Path(cache_dir), content_hash, config.key(), cuts)
        analysis = cache.load(entry)
        if analysis is not None:
            logger.info("analysis of %s from cache %s", path, entry)
            analysis.source = str(path)
            return analysis
    if encoder is None:
        from diffbgm.video.image_model import EfficientNetLite0Encoder

        encoder = EfficientNetLite0Encoder(device=device)
    analysis = _run_analysis(path, config, encoder, cuts, progress)
    analysis.source_hash = content_hash
    if entry is not None:
        cache.store(analysis, entry)
    return analysis


__all__ = ["ANALYSIS_FILE", "FEATURES_FILE", "AnalysisConfig", "VideoAnalysis", "VideoError", "analyze_video"]
