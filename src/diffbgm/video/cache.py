"""The analysis cache: one folder per video content and analysis configuration, written atomically."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

from diffbgm.atomic import atomic_folder
from diffbgm.video.record import VideoAnalysis
from diffbgm.video.shots import ShotList

logger = logging.getLogger(__name__)


def file_hash(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """BLAKE2b digest of a file's bytes (the cache key: a renamed or copied file still hits)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def cache_entry(cache_dir: Path, content_hash: str, config_key: str, cuts: ShotList | None) -> Path:
    """The folder of one video content, configuration (its :meth:`AnalysisConfig.key`) and cut list."""
    key = config_key
    if cuts is not None:
        cut_text = json.dumps([round(t, 6) for t in cuts.cuts_s])
        key += "-" + hashlib.blake2b(cut_text.encode(), digest_size=6).hexdigest()
    return cache_dir / f"{content_hash}-{key}"


def store(analysis: VideoAnalysis, entry: Path) -> None:
    """Save into the cache atomically (:func:`diffbgm.atomic.atomic_folder`)."""
    try:
        with atomic_folder(entry) as staging:
            analysis.save(staging)
    except OSError as error:
        # Another process may have stored the same entry first; the cache is only an optimisation.
        logger.warning("could not cache analysis at %s: %s", entry, error)


def load(entry: Path) -> VideoAnalysis | None:
    """The analysis cached in ``entry``, or ``None`` (absent or unreadable)."""
    from diffbgm.video.record import ANALYSIS_FILE, FEATURES_FILE

    if not ((entry / ANALYSIS_FILE).is_file() and (entry / FEATURES_FILE).is_file()):
        return None
    try:
        return VideoAnalysis.load(entry)
    except (OSError, ValueError, KeyError) as error:
        logger.warning("ignoring unreadable cache entry %s: %s", entry, error)
        return None
