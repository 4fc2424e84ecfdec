"""The music's time grid for a video: the planner's options (:class:`TimingConfig`) and its result
(:class:`TimingPlan`), rebuilt from beat times by :func:`plan_from_beats`. The planner itself is
:mod:`diffbgm.music.planner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from diffbgm.music.grid import BEATS_PER_BAR, STEPS_PER_BEAT
from diffbgm.music.sync_metrics import bar_line_beats, cut_errors, max_tempo_step
from diffbgm.music.tempo import TempoMap, tempo_for_mood

SECONDS_PER_MINUTE = 60.0


class VideoTooShortError(ValueError):
    """The video is too short to score."""


@dataclass(frozen=True)
class TimingConfig:
    """Options of :func:`plan_timing`.

    Parameters
    ----------
    bpm_range:
        Lowest and highest tempo of any bar (see :func:`diffbgm.music.tempo.tempo_for_mood` to derive
        it from a mood).
    bpm:
        A fixed tempo: constant from time 0, no search.
    preferred_bpm:
        Tempo the search leans towards; ``None`` = geometric middle of ``bpm_range``.
    max_tempo_step:
        Largest relative tempo change between neighbouring bars (``0.1`` = 10 %).
    min_duration_s:
        Shortest video that is scored.
    max_merged_shots:
        The most consecutive events one segment between anchored events may span (bounds the work).
    change_weight:
        Cost of a change of mean tempo between neighbouring segments, per squared log ratio and
        divided by the bars the change can ramp over.
    ramp_reach:
        Share of the ramp capacity (``max_tempo_step`` per bar over the mean bar count of the two
        segments) the search may plan on; the rest is left to the bar-length solve (a larger share puts
        more cuts on downbeats but fails that solve more often).
    bold_ramp_reaches:
        Larger shares tried first, largest first; the first whose plan solves is taken, else the
        search falls back to ``ramp_reach`` and repairs its plan where the solve fails.
    anchor_weight:
        Cost per bar and squared log ratio of the distance from ``preferred_bpm``.
    merged_cut_cost:
        Cost of a cut on the third beat of a bar (1.5 times as much on the second or fourth).
    dropped_cut_cost, dropped_accent_cost:
        Cost of a cut or an accent left off the beat grid.
    partial_end_cost:
        Cost of ending the video on a beat inside the last bar instead of on a bar line.
    pickup_cost:
        Cost of starting the video on a beat inside the first bar (a pickup) instead of on a bar line;
        ``inf``: never.
    meter_change_cost:
        Cost of ending a bar early at a cut (a bar of ``short_bar_beats`` beats), so that the cut is a bar
        line; ``inf``: 4/4 throughout.
    consecutive_meter_cost:
        More for a short bar right after short bars, times how many come before it in the run (up to
        three): a run of 2/4 and 3/4 bars lurches where one short bar among 4/4 bars does not.
    short_bar_beats:
        The beats a bar ended early may hold.
    accent_merge_s:
        An accent this close to a cut is the cut itself.
    pull_weight:
        Weight of the pull towards the preferred bar against smoothness in the bar-length solve.
    aligned_tolerance_steps:
        A cut within this many sixteenths of a downbeat counts as aligned.
    end_slack_beats:
        When the grid that ends on a beat at the video's end leaves a cut off its downbeat, grids
        that end this many beats (of ``preferred_bpm``) after the video are tried too, and the one
        with the most cuts on downbeats (then on beats) is taken: the video may end between two beats
        (the music fades out there anyway), which frees the last shots from a whole number of beats.
    end_slack_max_events:
        The most cuts and accents for which those grids are tried (each is a whole search again).
    """

    bpm_range: tuple[float, float] = (70.0, 140.0)
    bpm: float | None = None
    preferred_bpm: float | None = None
    max_tempo_step: float = 0.1
    min_duration_s: float = 1.0
    max_merged_shots: int = 4
    change_weight: float = 30.0
    ramp_reach: float = 0.6
    bold_ramp_reaches: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7)
    anchor_weight: float = 0.5
    merged_cut_cost: float = 8.0
    dropped_cut_cost: float = 25.0
    dropped_accent_cost: float = 6.0
    partial_end_cost: float = 3.0
    pickup_cost: float = 2.5
    meter_change_cost: float = 3.0
    consecutive_meter_cost: float = 1.0
    short_bar_beats: tuple[int, ...] = (2, 3)
    accent_merge_s: float = 0.02
    pull_weight: float = 1e-3
    aligned_tolerance_steps: float = 1.0
    end_slack_beats: tuple[float, ...] = (0.25, 0.5, 0.75)
    end_slack_max_events: int = 24


@dataclass
class TimingPlan:
    """The music's time grid for one video.

    Attributes
    ----------
    tempo_map:
        Beat <-> seconds map of the music (``diffbgm.music.tempo.TempoMap``), beat 0 = first downbeat,
        which lies before 0 s when the music starts with a pickup (:attr:`start_beat`).
    n_bars:
        Number of bars of music (the last one may be partial: see :attr:`music_end_s`).
    beats_s:
        ``(n_beats + 1,)`` time of every beat, the last entry being the final bar line.
    downbeats_s:
        ``(n_bars + 1,)`` time of every bar line, the last one the end of the written music.
    duration_s:
        The video's duration.
    cuts_s:
        The video's shot cuts (seconds), as given.
    cut_kept:
        ``(n_cuts,)`` bool: the cut is a bar line.
    cut_error_steps:
        ``(n_cuts,)`` distance from each cut to the nearest downbeat, in sixteenths of its bar.
    tempo_bpm:
        Median tempo over the bars (what a single-tempo description of the music says).
    aligned_tolerance_steps:
        Tolerance behind :attr:`cut_aligned`.
    accents_s:
        The minor cuts (flash frames, very short shots) the grid puts on beats, as given.
    bar_beats:
        ``(n_bars,)`` beats in each bar: 4 (4/4), or 2 or 3 where a bar ends early so that a cut falls on
        the next bar line, as a film composer changes the metre to hit a cut.
    """

    tempo_map: TempoMap
    n_bars: int
    beats_s: np.ndarray
    downbeats_s: np.ndarray
    duration_s: float
    cuts_s: np.ndarray
    cut_kept: np.ndarray
    cut_error_steps: np.ndarray
    tempo_bpm: float
    aligned_tolerance_steps: float = 1.0
    accents_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bar_beats: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.bar_beats is None:
            self.bar_beats = np.full(self.n_bars, BEATS_PER_BAR, dtype=np.int64)

    @property
    def n_beats(self) -> int:
        """Number of beats of music."""
        return int(self.bar_beats.sum())

    @property
    def bar_line_beats(self) -> np.ndarray:
        """``(n_bars + 1,)`` index of the beat each bar line is."""
        return bar_line_beats(self.n_beats, self.bar_beats)

    @property
    def metric_steps(self) -> np.ndarray:
        """``(n_beats * 4,)`` each sixteenth's place in its bar (0 on a bar line), what the model reads as
        its metric position."""
        return metric_steps_of_bars(self.bar_beats)

    @property
    def meter_changes(self) -> list[tuple[int, int]]:
        """``(beat, beats per bar)`` at the first bar and wherever the bar length changes."""
        lines = self.bar_line_beats
        return [(int(lines[i]), int(n)) for i, n in enumerate(self.bar_beats)
                if i == 0 or n != self.bar_beats[i - 1]]

    @property
    def start_beat(self) -> int:
        """The beat at 0 s: 0, or the first heard beat of a pickup (the first bar begins before the
        video and only its last ``4 - start_beat`` beats sound)."""
        return int(np.searchsorted(self.beats_s, -1e-6))

    @property
    def heard_downbeats_s(self) -> np.ndarray:
        """The bar lines from 0 s on (a pickup's first bar line lies before the video)."""
        return self.downbeats_s[self.downbeats_s > -1e-6]

    @property
    def daw_bar_lines_s(self) -> np.ndarray:
        """Where a DAW that opens the MIDI puts its bar lines: a pickup is a short first bar at 0 s (bar
        1), then the heard bar lines."""
        heard = self.heard_downbeats_s
        return np.concatenate([[0.0], heard]) if self.start_beat else heard

    @property
    def bar_bpm(self) -> np.ndarray:
        """``(n_bars,)`` tempo of each bar."""
        return self.bar_beats * SECONDS_PER_MINUTE / np.diff(self.downbeats_s)

    @property
    def cut_aligned(self) -> np.ndarray:
        """``(n_cuts,)`` bool: the cut lies within the tolerance of a downbeat."""
        return self.cut_error_steps <= self.aligned_tolerance_steps

    @property
    def aligned_fraction(self) -> float:
        """Share of cuts that lie on a downbeat (1.0 when there are no cuts)."""
        return float(self.cut_aligned.mean()) if len(self.cuts_s) else 1.0

    @property
    def cut_beat_error_steps(self) -> np.ndarray:
        """``(n_cuts,)`` distance from each cut to the nearest beat, in sixteenths of its bar."""
        return cut_errors(self.cuts_s, self.beats_s, self.bar_beats).beat_steps

    @property
    def accent_beat_error_steps(self) -> np.ndarray:
        """``(n_accents,)`` distance from each accent to the nearest beat, in sixteenths of its bar."""
        return cut_errors(self.accents_s, self.beats_s, self.bar_beats).beat_steps

    @property
    def music_end_s(self) -> float:
        """Where the written music ends: the final bar line, at or after :attr:`duration_s`."""
        return float(self.downbeats_s[-1])

    @property
    def partial_last_bar(self) -> bool:
        """The video ends inside the last bar (the audio is trimmed to the video)."""
        return self.music_end_s > self.duration_s + 1e-6

    @property
    def max_tempo_step(self) -> float:
        """Largest relative tempo change between neighbouring bars."""
        return max_tempo_step(self.bar_bpm)


def metric_steps_of_bars(bar_beats) -> np.ndarray:
    """Bars of ``bar_beats`` beats -> each sixteenth's place in its bar (0 on a bar line)."""
    lines = bar_line_beats(int(np.sum(bar_beats)), bar_beats) * STEPS_PER_BEAT
    steps = np.arange(lines[-1])
    return steps - lines[np.searchsorted(lines, steps, side="right") - 1]


def timing_config(bpm: float | None = None, tempo_range: tuple[float, float] | None = None,
                  arousal: float | None = None, valence: float = 0.0, motion: float | None = None,
                  worded: bool = False) -> TimingConfig:
    """The planner's options from what the user gave: a fixed tempo wins, then a tempo range, then the
    tempo the mood (arousal, valence in [-1, 1]; ``worded``: the user's own words) and the picture's
    mean motion (frame widths per second) ask for (:func:`diffbgm.music.tempo.tempo_for_mood`); with
    none of them, the defaults."""
    if bpm is not None:
        return TimingConfig(bpm=bpm)
    if tempo_range is not None:
        return TimingConfig(bpm_range=(float(tempo_range[0]), float(tempo_range[1])))
    if arousal is None and motion is None:
        return TimingConfig()
    preference = tempo_for_mood(0.0 if arousal is None else arousal, valence, motion, worded)
    return TimingConfig(bpm_range=preference.bpm_range, preferred_bpm=preference.preferred_bpm)


def bar_seconds(bpm: float) -> float:
    """Length of one 4/4 bar at ``bpm``."""
    return BEATS_PER_BAR * SECONDS_PER_MINUTE / bpm


def beats_of_bars(downbeats: np.ndarray, bar_beats=None) -> np.ndarray:
    """Bar lines -> every beat (each bar split evenly into its ``bar_beats``, default 4), ending with the
    last bar line."""
    downbeats = np.asarray(downbeats, dtype=np.float64)
    counts = np.full(len(downbeats) - 1, BEATS_PER_BAR) if bar_beats is None else np.asarray(bar_beats)
    beats = [start + (end - start) * np.arange(n) / n for start, end, n in zip(downbeats[:-1], downbeats[1:], counts)]
    return np.append(np.concatenate(beats), downbeats[-1])


def plan_from_beats(beats_s, duration_s: float, cuts_s, tolerance_steps: float = 1.0, accents_s=(),
                    bar_beats=None) -> TimingPlan:
    """Rebuild a :class:`TimingPlan` from its beat times (e.g. the ``beats_s`` of a saved result).

    ``beats_s`` holds ``n_beats + 1`` increasing times, the first one being the first downbeat;
    ``bar_beats`` the beats in each bar (``None``: 4/4 throughout, ``4 * n_bars + 1`` times).
    """
    beats = np.asarray(beats_s, dtype=np.float64)
    if beats.ndim != 1 or len(beats) < 2:
        raise ValueError(f"beat times must hold n_beats + 1 entries, got {beats.shape}")
    lines = bar_line_beats(len(beats) - 1, bar_beats)
    counts = np.diff(lines)
    cuts = np.sort(np.asarray(cuts_s, dtype=np.float64).ravel())
    downbeats = beats[lines]
    errors = cut_errors(cuts, beats, counts)
    return TimingPlan(
        tempo_map=TempoMap.from_beat_times(beats),
        n_bars=len(downbeats) - 1,
        beats_s=beats,
        downbeats_s=downbeats,
        duration_s=float(duration_s),
        cuts_s=cuts,
        cut_kept=errors.downbeat_s < 1e-6,
        cut_error_steps=errors.downbeat_steps,
        tempo_bpm=float(np.median(counts * SECONDS_PER_MINUTE / np.diff(downbeats))),
        aligned_tolerance_steps=tolerance_steps,
        accents_s=np.sort(np.asarray(accents_s, dtype=np.float64).ravel()),
        bar_beats=counts,
    )
