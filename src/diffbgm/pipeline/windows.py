"""Filling a piece window by window: conditions, key, groove, inpainting context and seeds.

The piece is generated as consecutive 8-bar windows: every window after the first continues the
previous one by inpainting over their overlap (the overlap's notes are *known*), so there is no seam.
Diff-BGM generates windows independently and concatenates them; its official code leaves the seams
audible. The same mechanism re-writes a time range of an earlier result: everything outside the range
is known.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from diffbgm.conditions import ConditionBatch, groove_vector
from diffbgm.conditions.from_video import VideoConditions, WindowSpan, condition_windows, window_spans
from diffbgm.diffusion import restrict_pitches, sample
from diffbgm.music.grid import BEATS_PER_BAR, N_PITCHES, ONSET, STEPS_PER_BAR, STEPS_PER_BEAT, SUSTAIN, WINDOW_BEATS, WINDOW_STEPS
from diffbgm.music.key import Key
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.pipeline.ending import key_of_roll
from diffbgm.pipeline.options import GenerationOptions

logger = logging.getLogger(__name__)

# The first window of a piece is drawn again (new noise, the same conditions) while its first note
# comes more than this many steps after the first step heard, up to OPENING_DRAWS draws in all, and
# the earliest opening is kept: the model sometimes opens with a bar of rests, which on a video is
# silence under its first seconds.
LATE_OPENING_STEPS = STEPS_PER_BEAT
OPENING_DRAWS = 3


@dataclass
class Score:
    """The state a generation leaves behind and a regeneration starts from (saved as ``OUT.npz``)."""

    roll: np.ndarray  # bool (2, steps, 128): the stitched piece before the ending
    dynamic: np.ndarray
    semantic: np.ndarray
    segments: np.ndarray
    intensity: np.ndarray

    ARRAYS = ("roll", "dynamic", "semantic", "segments", "intensity")

    def save(self, path) -> None:
        """Write the arrays to an ``.npz`` file (the path is written as given)."""
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **{name: getattr(self, name) for name in self.ARRAYS})

    @classmethod
    def load(cls, path) -> Score:
        """Read what :meth:`save` wrote."""
        with np.load(path) as stored:
            score = cls(**{name: stored[name] for name in cls.ARRAYS})
        score.roll = score.roll.astype(bool)
        return score


def window_seed(seed: int, window: int, revision: int = 0, draw: int = 0) -> int:
    """A 63-bit seed for one window, derived deterministically from the user's seed (``draw`` > 0: a
    further draw of the same window)."""
    entropy = [int(seed) & 0xFFFFFFFF, window, revision] + ([draw] if draw else [])
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def opening_delay(written: np.ndarray, new: np.ndarray) -> int:
    """Steps from the first ``new`` step of a window's ``written`` roll ``(2, steps, 128)`` to its first
    onset there (the number of ``new`` steps when none sounds)."""
    steps = np.flatnonzero(new)
    onsets = written[ONSET][: len(new)][steps].any(axis=1)
    return int(np.argmax(onsets)) if onsets.any() else len(steps)


def key_of_known_music(roll: np.ndarray, free: np.ndarray) -> Key | None:
    """The estimated key of the notes of ``roll`` (bool ``(2, steps, 128)``) outside the ``free`` steps."""
    known = ~free[:, None]
    onset = roll[ONSET] & known
    if not onset.any():
        return None
    return key_of_roll(PianoRoll(onset, roll[SUSTAIN] & known))


def groove_of_known_music(roll: np.ndarray, free: np.ndarray, metric_steps: np.ndarray | None = None) -> np.ndarray | None:
    """The groove (:func:`groove_vector`) of the whole 4/4 bars of ``roll`` with no ``free`` step (bars
    placed by ``metric_steps``, each step's place in its bar; ``None``: 4/4 from step 0); ``None`` if
    none sounds."""
    n_steps = roll.shape[1]
    positions = np.arange(n_steps) % STEPS_PER_BAR if metric_steps is None else np.asarray(metric_steps)[:n_steps]
    starts = np.flatnonzero(positions == 0)
    whole = [start for start in starts
             if start + STEPS_PER_BAR <= len(positions) and positions[start + STEPS_PER_BAR - 1] == STEPS_PER_BAR - 1
             and not free[start:start + STEPS_PER_BAR].any()]
    if not whole:
        return None
    bars = np.concatenate([roll[:, start:start + STEPS_PER_BAR] for start in whole], axis=1)
    groove = groove_vector(bars)
    return groove if groove.any() else None


def window_metric_steps(metric_steps: np.ndarray, span: WindowSpan) -> np.ndarray:
    """``(128,)`` metric steps of a window (past the piece's end, 4/4 goes on)."""
    start = span.start_beat * STEPS_PER_BEAT
    row = np.asarray(metric_steps[start:start + WINDOW_STEPS], dtype=np.int64)
    tail = (row[-1] + 1 + np.arange(WINDOW_STEPS - len(row))) % STEPS_PER_BAR if len(row) else np.arange(WINDOW_STEPS) % STEPS_PER_BAR
    return np.concatenate([row, tail])


def window_context(roll: np.ndarray, free: np.ndarray, span: WindowSpan) -> tuple[torch.Tensor, torch.Tensor]:
    """Known notes and mask ``(1, 2, 128, 128)`` of a window: every step not ``free`` is known."""
    start = span.start_beat * STEPS_PER_BEAT
    length = min(WINDOW_STEPS, roll.shape[1] - start)
    known = np.zeros((2, WINDOW_STEPS, N_PITCHES), dtype=np.float32)
    known[:, :length] = roll[:, start:start + length]
    mask = np.zeros((1, 1, WINDOW_STEPS, 1), dtype=np.float32)
    mask[0, 0, :length, 0] = ~free[start:start + length]
    return torch.from_numpy(known)[None], torch.from_numpy(mask).expand(1, 2, WINDOW_STEPS, N_PITCHES)


def fill_windows(model, score: Score, free: np.ndarray, options: GenerationOptions, revision: int,
                 device: str = "cpu", start_key: Key | None = None, known_key: Key | None = None,
                 progress: Callable[[str, int, int], None] | None = None,
                 metric_steps: np.ndarray | None = None) -> Key | None:
    """Generate the ``free`` steps of ``score.roll`` window by window, the rest being known.

    ``start_key`` is the key a model that reads one is told from the first window on under ``"auto"``
    when no music is known yet (the mood's key); without it the first window chooses. ``known_key`` is
    the key of the music already known (an earlier result's, when regenerating), kept under ``"auto"``
    instead of estimating one from those notes: part of a piece can read in its relative key.
    ``progress("diffusion", done, n_windows)`` is called after each window (also one with nothing free).
    ``metric_steps`` (``TimingPlan.metric_steps``) places the bar lines (a bar may hold 2, 3 or 4
    beats); ``None``: 4/4 from step 0.
    Returns the key the windows were held to: the given one, the one ``"auto"`` settled on (from the
    music already known when regenerating, else ``start_key`` or the first window written), or ``None``.
    """
    n_beats = score.segments.shape[0]
    spans = window_spans(n_beats, WINDOW_BEATS, options.overlap_bars * BEATS_PER_BAR)
    conditions = VideoConditions(score.dynamic, score.segments, [""] * n_beats, score.intensity)
    batch = condition_windows(conditions, score.semantic, spans)
    n_steps = score.roll.shape[1]
    free = free.copy()
    key = options.musical_key()
    # A model that reads the key is told it; the others (and --strict-key) get its scale as a mask.
    reads_key = model.config.unet.scale_input
    if options.follows_first_key():
        key = known_key if known_key is not None else key_of_known_music(score.roll, free)
        if key is None and reads_key:
            key = start_key
    hard_key = options.strict_key or not reads_key
    reads_groove = model.config.unet.groove_input
    fixed_groove = options.fixed_groove() if reads_groove else None
    for index, span in enumerate(spans):
        start = span.start_beat * STEPS_PER_BEAT
        stop = min(start + WINDOW_STEPS, n_steps)
        if not free[start:stop].any():
            if progress is not None:
                progress("diffusion", index + 1, len(spans))
            continue
        known, mask = window_context(score.roll, free, span)
        if key is not None and hard_key:
            known, mask = restrict_pitches(torch.from_numpy(key.pitch_mask()), known, mask)
        window: ConditionBatch = batch[index]
        if reads_key:
            window = window.with_keys([key])
        groove = (groove_of_known_music(score.roll, free, metric_steps) if reads_groove and options.follows_groove()
                  else fixed_groove)
        window = window.with_grooves([groove])
        if metric_steps is not None:
            window = window.with_metric_steps([window_metric_steps(metric_steps, span)])
        new = free[start:stop]
        opening = not score.roll[ONSET][:start].any() and not (score.roll[ONSET][start:stop] & ~new[:, None]).any()
        best = None
        for draw in range(OPENING_DRAWS if opening else 1):
            generator = torch.Generator(device="cpu").manual_seed(window_seed(options.seed, index, revision, draw))
            probabilities = sample(
                model, window.to(device), sampler=options.sampler, steps=options.steps,
                guidance_scale=options.guidance, generator=generator, known=known.to(device),
                known_mask=mask.to(device), groove_guidance=options.groove_guidance,
            )
            written = probabilities[0].float().cpu().numpy() > options.threshold
            written[SUSTAIN] &= ~written[ONSET]
            delay = opening_delay(written, new)
            if best is None or delay < best[0]:
                best = (delay, written)
            if not opening or delay <= LATE_OPENING_STEPS:
                break
            logger.info("the opening's first note came %d steps late: drawn again", delay)
        written = best[1]
        score.roll[:, start:stop][:, new] = written[:, : stop - start][:, new]
        free[start:stop] = False
        logger.info("window %d/%d done", index + 1, len(spans))
        if progress is not None:
            progress("diffusion", index + 1, len(spans))
        if key is None and options.follows_first_key():
            key = known_key if known_key is not None else key_of_known_music(score.roll, free)
            if key is not None:
                logger.info("the music settled in %s", key)
    return key
