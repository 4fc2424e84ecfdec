"""The BGM909 feature layout of Diff-BGM, read and written, and built from a user's own (video, MIDI) pairs.

Layout under a root folder, one file per song id (as read by the official loader,
``polyffusion/data/dataset.py`` in sizhelee/Diff-BGM)::

    new_raw_video_feats/<id>.pth   torch float tensor [T, 512]: visual (CLIP) features
    caption_feats/<id>.npy         float32 [T, 768]: caption (BERT) features
    detection/<id>_scenes.txt      one shot per line, "start_frame end_frame" (inclusive, video frames)

The official loader resamples both feature arrays to one row per beat of the song (row
``int(i * T / n_beats)`` for beat ``i``) and only counts the lines of the scenes file (shots per
segment). The line format is TransNetV2's ``<video>.scenes.txt`` (``np.savetxt(..., fmt="%d")`` of
inclusive [start, end] frame pairs), the shot detector the dataset was built with.

Files we add (ignored by the official loader):

    beat_times/<id>.npy            float64 [T]: the beat times in seconds the rows were sampled at
    midi/<id>.mid                  the song's MIDI, copied unchanged
    analysis/<id>/                 our full video analysis (:meth:`VideoAnalysis.save`)

Building from a user's pairs (:func:`build_bgm909`) samples one row per MIDI beat
(``pretty_midi.PrettyMIDI.get_beats()``), so ``T`` is the song's beat count:

- visual: a user CLIP folder gives CLIP image embeddings (the paper's features); otherwise our
  EfficientNet-Lite0 1280-d embeddings go through a fixed random Gaussian projection to 512-d
  (seed 909, Johnson-Lindenstrauss: it keeps distances between frames up to a small factor, needs no
  fitting, and is the same for every song and every run). Rows are L2-normalised either way.
- caption: each beat takes its shot's caption; a user BERT folder (768-d, the paper's) embeds it,
  otherwise MiniLM (384-d) fills the first 384 columns and the rest are zeros.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diffbgm.atomic import atomic_folder, atomic_output

logger = logging.getLogger(__name__)

VISUAL_DIR = "new_raw_video_feats"
CAPTION_DIR = "caption_feats"
DETECTION_DIR = "detection"
BEATS_DIR = "beat_times"
MIDI_DIR = "midi"
ANALYSIS_DIR = "analysis"
VISUAL_DIM = 512
CAPTION_DIM = 768
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov", ".webm", ".avi", ".m4v")
MIDI_SUFFIXES = (".mid", ".midi")
PROJECTION_SEED = 909


class Bgm909FormatError(ValueError):
    """A BGM909 file is missing or malformed."""


@dataclass
class Bgm909Item:
    """The BGM909 features of one song.

    ``visual`` (T,512) and ``caption`` (T,768) float32 rows (one per beat when built by us);
    ``scenes`` the shots as inclusive ``(start_frame, end_frame)`` pairs; ``beat_times`` (T,) in
    seconds when known (our own extra file; the original dataset has none).
    """

    visual: np.ndarray
    caption: np.ndarray
    scenes: list[tuple[int, int]]
    beat_times: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.visual = np.asarray(self.visual, dtype=np.float32)
        self.caption = np.asarray(self.caption, dtype=np.float32)
        for name, array in (("visual", self.visual), ("caption", self.caption)):
            if array.ndim != 2:
                raise Bgm909FormatError(f"{name} features must be 2-D [T, D], got shape {array.shape}")
        self.scenes = [(int(start), int(end)) for start, end in self.scenes]
        for start, end in self.scenes:
            if not 0 <= start <= end:
                raise Bgm909FormatError(f"bad scene ({start}, {end}): need 0 <= start <= end")
        if self.beat_times is not None:
            self.beat_times = np.asarray(self.beat_times, dtype=np.float64)
            if self.beat_times.shape != (len(self.visual),):
                raise Bgm909FormatError(f"beat_times has shape {self.beat_times.shape}, "
                                        f"expected ({len(self.visual)},)")


def _paths(root: Path, song_id: str) -> dict[str, Path]:
    return {
        "visual": root / VISUAL_DIR / f"{song_id}.pth",
        "caption": root / CAPTION_DIR / f"{song_id}.npy",
        "scenes": root / DETECTION_DIR / f"{song_id}_scenes.txt",
        "beats": root / BEATS_DIR / f"{song_id}.npy",
    }


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as temp:
        write(temp)


def _save_npy(array: np.ndarray) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        with open(path, "wb") as stream:
            np.save(stream, array)

    return write


def write_scenes(path: str | Path, scenes: Sequence[tuple[int, int]]) -> None:
    """Write shots as ``"start end"`` lines (TransNetV2 ``scenes.txt``)."""
    text = "".join(f"{int(start)} {int(end)}\n" for start, end in scenes)
    _write_atomic(Path(path), lambda temp: temp.write_text(text))


def read_scenes(path: str | Path) -> list[tuple[int, int]]:
    """Read a ``scenes.txt``: one ``"start end"`` pair of integers per non-empty line."""
    path = Path(path)
    scenes = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        cells = line.split()
        if not cells:
            continue
        try:
            start, end = (int(float(cell)) for cell in cells[:2])
            if len(cells) != 2:
                raise ValueError
        except ValueError:
            raise Bgm909FormatError(f"{path}:{number}: expected 'start_frame end_frame', got {line!r}") from None
        scenes.append((start, end))
    return scenes


def write_bgm909(root: str | Path, song_id: str, item: Bgm909Item) -> None:
    """Write one song's files under ``root`` (each file written to a temp name, then renamed)."""
    paths = _paths(Path(root), song_id)
    visual = torch.from_numpy(np.ascontiguousarray(item.visual))
    _write_atomic(paths["visual"], lambda temp: torch.save(visual, temp))
    _write_atomic(paths["caption"], _save_npy(item.caption))
    write_scenes(paths["scenes"], item.scenes)
    if item.beat_times is not None:
        _write_atomic(paths["beats"], _save_npy(item.beat_times))


def read_bgm909(root: str | Path, song_id: str) -> Bgm909Item:
    """Read one song's files from ``root`` (``beat_times`` is ``None`` when that file is absent)."""
    paths = _paths(Path(root), song_id)
    for key in ("visual", "caption", "scenes"):
        if not paths[key].is_file():
            raise Bgm909FormatError(f"BGM909 file missing: {paths[key]}")
    try:
        visual = torch.load(paths["visual"], map_location="cpu", weights_only=True)
        caption = np.load(paths["caption"], allow_pickle=False)
    except (OSError, ValueError, RuntimeError) as error:
        raise Bgm909FormatError(f"unreadable BGM909 features for {song_id!r} in {root}: {error}") from None
    if not isinstance(visual, torch.Tensor):
        visual = torch.as_tensor(np.asarray(visual))
    beats = np.load(paths["beats"], allow_pickle=False) if paths["beats"].is_file() else None
    return Bgm909Item(visual.float().numpy(), caption, read_scenes(paths["scenes"]), beats)


def list_bgm909(root: str | Path) -> list[str]:
    """Sorted ids that have all three BGM909 files under ``root``."""
    root = Path(root)
    visual_dir = root / VISUAL_DIR
    if not visual_dir.is_dir():
        return []
    ids = []
    for path in sorted(visual_dir.glob("*.pth")):
        paths = _paths(root, path.stem)
        if paths["caption"].is_file() and paths["scenes"].is_file():
            ids.append(path.stem)
    return ids


# --- building from a user's (video, MIDI) pairs ----------------------------------------------------


def match_pairs(videos_dir: str | Path, midi_dir: str | Path) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """Pair videos and MIDI files by file stem.

    Returns ``(pairs, unmatched)``: ``(stem, video, midi)`` sorted by stem, and the names of files
    that have no partner.
    """
    def by_stem(folder: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
        files: dict[str, Path] = {}
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in suffixes:
                if path.stem in files:
                    raise Bgm909FormatError(f"two files share the stem {path.stem!r} in {folder}")
                files[path.stem] = path
        return files

    videos = by_stem(Path(videos_dir), VIDEO_SUFFIXES)
    midis = by_stem(Path(midi_dir), MIDI_SUFFIXES)
    pairs = [(stem, videos[stem], midis[stem]) for stem in sorted(videos.keys() & midis.keys())]
    unmatched = sorted(p.name for stem, p in (*videos.items(), *midis.items()) if stem not in videos or stem not in midis)
    return pairs, unmatched


def random_projection(in_dim: int = 1280, out_dim: int = VISUAL_DIM, seed: int = PROJECTION_SEED) -> np.ndarray:
    """The fixed Gaussian projection ``(in_dim, out_dim)`` used for EfficientNet -> 512-d visual rows."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((in_dim, out_dim)) / np.sqrt(out_dim)).astype(np.float32)


def _unit_rows(array: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


def _nearest_index(times: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Index of the element of sorted ``times`` nearest each query."""
    right = np.clip(np.searchsorted(times, queries), 1, max(1, len(times) - 1))
    left = right - 1
    if len(times) == 1:
        return np.zeros(len(queries), dtype=np.int64)
    return np.where(np.abs(times[left] - queries) <= np.abs(times[right] - queries), left, right)


def midi_beat_times(midi_path: str | Path) -> np.ndarray:
    """Beat times in seconds of a MIDI file (``pretty_midi``'s beat tracking of its tempo map)."""
    import pretty_midi

    try:
        beats = pretty_midi.PrettyMIDI(str(midi_path)).get_beats()
    except Exception as error:  # pretty_midi/mido raise many types on corrupt files
        raise Bgm909FormatError(f"cannot read MIDI {midi_path}: {error}") from None
    if len(beats) == 0:
        raise Bgm909FormatError(f"MIDI {midi_path} has no beats (empty file?)")
    return np.asarray(beats, dtype=np.float64)


def shots_to_scenes(shots: Sequence[tuple[float, float]], fps: float) -> list[tuple[int, int]]:
    """Shots in seconds -> inclusive ``(start_frame, end_frame)`` at the video's frame rate."""
    scenes = []
    for start_s, end_s in shots:
        start = int(round(start_s * fps))
        scenes.append((start, max(start, int(round(end_s * fps)) - 1)))
    return scenes


class CaptionFeaturizer:
    """Caption sentences -> 768-d rows: a user BERT folder, else MiniLM zero-padded to 768."""

    def __init__(self, bert_dir: str | Path | None = None, device: str = "cpu") -> None:
        if bert_dir is not None:
            from diffbgm.video.encoders import BertTextEncoder

            self.encoder = BertTextEncoder(bert_dir, device=device)
            if self.encoder.dim != CAPTION_DIM:
                raise Bgm909FormatError(f"BERT at {bert_dir} gives {self.encoder.dim}-d vectors; "
                                        f"BGM909 captions are {CAPTION_DIM}-d")
        else:
            from diffbgm.conditions.text import SentenceEmbedder

            self.encoder = SentenceEmbedder(device=device)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(self.encoder.embed(list(texts)), dtype=np.float32)
        if vectors.shape[1] > CAPTION_DIM:
            raise Bgm909FormatError(f"caption vectors are {vectors.shape[1]}-d, more than {CAPTION_DIM}")
        return np.pad(vectors, ((0, 0), (0, CAPTION_DIM - vectors.shape[1])))


def _clip_rows(video: Path, beat_times: np.ndarray, clip_encoder, fps: float = 2.0) -> np.ndarray:
    from diffbgm.video.decode import iter_frames

    times, frames = [], []
    for frame in iter_frames(video, fps=fps, max_side=336):
        times.append(frame.time_s)
        frames.append(frame.rgb)
    embeddings = clip_encoder.embed(np.stack(frames))
    if embeddings.shape[1] != VISUAL_DIM:
        raise Bgm909FormatError(f"CLIP gives {embeddings.shape[1]}-d vectors; BGM909 visual rows are {VISUAL_DIM}-d")
    return embeddings[_nearest_index(np.asarray(times), beat_times)]


def build_item(
    video: Path,
    midi: Path,
    analysis,
    captions: CaptionFeaturizer,
    clip_encoder=None,
) -> Bgm909Item:
    """The BGM909 item of one (video, MIDI) pair, one row per MIDI beat.

    ``analysis`` is the video's :class:`~diffbgm.video.analysis.VideoAnalysis`. Beats after the end of
    the video take the last frame's features.
    """
    beat_times = midi_beat_times(midi)
    if beat_times[-1] > analysis.duration_s + 1.0:
        logger.warning("%s: the music (%.1f s of beats) outlasts the video (%.1f s); the last frame "
                       "stands in for the rest", video.name, beat_times[-1], analysis.duration_s)
    frame_times = np.asarray(analysis.frame_times, dtype=np.float64)
    if clip_encoder is not None:
        visual = _clip_rows(video, beat_times, clip_encoder)
    else:
        rows = analysis.image_embeddings[_nearest_index(frame_times, beat_times)]
        visual = rows @ random_projection(rows.shape[1])
    shot_of_beat = np.searchsorted(np.asarray(analysis.cuts_s), beat_times, side="right")
    shot_vectors = captions(list(analysis.shot_captions))
    return Bgm909Item(
        visual=_unit_rows(visual),
        caption=shot_vectors[shot_of_beat],
        scenes=shots_to_scenes(analysis.shots, analysis.fps),
        beat_times=beat_times,
    )


def build_bgm909(
    videos_dir: str | Path,
    midi_dir: str | Path,
    out_dir: str | Path,
    clip_dir: str | Path | None = None,
    bert_dir: str | Path | None = None,
    device: str = "cpu",
    cache_dir: str | Path | None = None,
    progress: bool = True,
    on_item: Callable[[str], None] | None = None,
) -> list[str]:
    """Build the BGM909 layout in ``out_dir`` from videos and MIDI files matched by stem.

    Everything is written into a temporary folder beside ``out_dir`` and renamed into place at the
    end, so a failure leaves no partial output. ``out_dir`` must not exist or be empty.
    Returns the ids written.
    """
    from diffbgm.video.analysis import analyze_video
    from diffbgm.video.image_model import EfficientNetLite0Encoder

    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise Bgm909FormatError(f"output folder {out_dir} exists and is not empty")
    for folder, what in ((videos_dir, "videos"), (midi_dir, "MIDI")):
        if not Path(folder).is_dir():
            raise Bgm909FormatError(f"{what} folder not found: {folder}")
    pairs, unmatched = match_pairs(videos_dir, midi_dir)
    if not pairs:
        raise Bgm909FormatError(f"no video in {videos_dir} has a MIDI file of the same name in {midi_dir}")
    for name in unmatched:
        logger.warning("no partner for %s; skipped", name)
    encoder = EfficientNetLite0Encoder(device=device)
    captions = CaptionFeaturizer(bert_dir, device=device)
    clip_encoder = None
    if clip_dir is not None:
        from diffbgm.video.encoders import ClipImageEncoder

        clip_encoder = ClipImageEncoder(clip_dir, device=device)
    with atomic_folder(out_dir) as staging:
        for song_id, video, midi in pairs:
            analysis = analyze_video(video, progress=progress, cache_dir=cache_dir, encoder=encoder, device=device)
            write_bgm909(staging, song_id, build_item(video, midi, analysis, captions, clip_encoder))
            (staging / MIDI_DIR).mkdir(exist_ok=True)
            shutil.copyfile(midi, staging / MIDI_DIR / f"{song_id}.mid")
            analysis.save(staging / ANALYSIS_DIR / song_id)
            if on_item is not None:
                on_item(song_id)
    return [song_id for song_id, _, _ in pairs]
