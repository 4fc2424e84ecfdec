"""Video in, scored video out: analysis -> timing -> conditions -> windowed diffusion -> MIDI, audio, picture.

Built like a diffusers pipeline from its components (the denoiser and its config, the sentence
embedder, the video-analysis settings); :meth:`ScoringPipeline.from_checkpoint` assembles them from a
weights file. The piece is generated as consecutive 8-bar windows: every window after the first
continues the previous one by inpainting over their overlap (the overlap's notes are *known*), so
there is no seam. Diff-BGM generates windows independently and concatenates them; its official code
leaves the seams audible. The same mechanism re-writes a time range of an earlier result
(:meth:`ScoringPipeline.regenerate`): everything outside the range is known.

All outputs (``OUT.mp4`` and, beside it, ``OUT.mid``, ``OUT.wav``, ``OUT.json``, ``OUT.png``,
``OUT.npz``) are staged in a temporary folder and moved into place together; on failure none appear.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from diffbgm.conditions import ConditionBatch, groove_vector, scale_vector
from diffbgm.conditions.from_video import (
    DEFAULT_OVERLAP_BEATS,
    VideoConditions,
    WindowSpan,
    condition_windows,
    conditions_from_video,
    window_spans,
)
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.conditions.timing import (
    TimingConfig,
    TimingPlan,
    plan_from_beats,
    plan_timing,
)
from diffbgm.evaluation.metrics import beat_notes_from_pianoroll
from diffbgm.evaluation.metrics import estimate_key as estimate_key_of_notes
from diffbgm.music.grid import (
    N_PITCHES,
    ONSET,
    STEPS_PER_BAR,
    STEPS_PER_BEAT,
    SUSTAIN,
    WINDOW_BEATS,
    WINDOW_STEPS,
)
from diffbgm.music.key import Key
from diffbgm.music.midi import midi_to_pianoroll
from diffbgm.music.notes import DEFAULT_VELOCITY, Note
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.render.audio import SAMPLE_RATE, parse_level, render_audio, write_wav
from diffbgm.render.midi import DEFAULT_VELOCITY_RANGE, render_midi
from diffbgm.render.mux import mux_audio, read_audio
from diffbgm.render.output import check_output_path
from diffbgm.render.picture import render_picture

logger = logging.getLogger(__name__)

MANIFEST_VERSION = 1
DEFAULT_WEIGHTS = Path(__file__).with_name("weights") / "default.safetensors"
SIDE_SUFFIXES = (".mid", ".wav", ".json", ".png", ".npz")


class GenerationError(ValueError):
    """A generation request the user must fix (one line; the CLI shows it without a traceback)."""


KEY_AUTO, KEY_NONE = "auto", "none"
GROOVE_AUTO, GROOVE_NONE = "auto", "none"
# 15 DPM-Solver++ steps with groove guidance 5 score as 20 steps do (GPS 0.834 against 0.833 on 80
# POP909-valid windows) and pay for most of the third model evaluation that groove guidance costs.
DEFAULT_STEPS = 15
DEFAULT_GROOVE_GUIDANCE = 5.0


@dataclass(frozen=True)
class GenerationOptions:
    """Everything a user chooses for one generation; saved in the manifest.

    Parameters
    ----------
    bpm, tempo_range:
        A fixed tempo, or the range the timing solver may use (see :mod:`diffbgm.conditions.timing`).
    steps, sampler, guidance:
        Diffusion sampling: step count, ``dpmpp`` / ``ddim`` / ``ddpm``, classifier-free guidance scale.
    seed:
        Seeds every window's noise (same seed and options -> the same MIDI).
    mood, caption:
        The user's mood words and caption for the whole video (replace the automatic ones).
    keep_audio:
        Mix the video's own sound in at this level (``"-12dB"`` or a linear gain); ``None`` drops it.
    soundfont:
        SoundFont for the synthesis (default: see :func:`diffbgm.render.audio.choose_soundfont`).
    overlap_bars:
        Bars each window shares with the previous one (inpainted, known).
    threshold:
        Piano-roll probability above which a cell is a note.
    fade_bars, cadence:
        The ending: velocities fall over the last ``fade_bars`` bars; ``cadence`` puts a tonic chord
        of the key on the last downbeat.
    key:
        A key such as ``"A minor"``. A model that reads a key (``unet.scale_input``, as the shipped
        one) gets it as a condition and keeps to its scale as POP909 does, passing notes included;
        any other model is sampled with the pitches outside the scale held silent
        (:func:`diffbgm.diffusion.restrict_pitches`). ``"auto"`` (the default) lets the model choose
        in the first window, then keeps every later window in the key estimated from it: the model
        writes each window on its own and, left to choose, drifts from key to key (PCHE 2.99 against
        POP909's 2.70 with no key, 2.75 with one; docs/default-model.md). ``"none"`` (or ``None``,
        as older manifests say) lets every window choose; the cadence then uses the key estimated
        from the music.
    strict_key:
        Hold the pitches outside the key's scale silent with a model that reads a key, too.
    groove:
        ``"auto"``: a model that reads a groove (``unet.groove_input``, as the shipped one) is given,
        for each window, the groove of the music already written (:func:`diffbgm.conditions.groove_vector`
        of every bar known so far), so that the accompaniment keeps its figure from window to window;
        the first window of a new piece has none and chooses. ``"none"``: every window chooses its own.
        Anything else is a MIDI file whose groove (on its own bar grid) every window is given. Models
        without the input ignore it.
    groove_guidance:
        Extra guidance towards the groove (:func:`diffbgm.diffusion.guided_epsilon`): how firmly every
        bar keeps the figure. The groove alone gives each sixteenth's share of bars, and the model,
        told it, still let its bars wander (GPS 0.76 against POP909's 0.84); guidance 5 brings them
        to 0.82, with PCHE from 2.75 to 2.77 against 2.70 (docs/default-model.md). 0 turns it off, and
        saves the third model evaluation per step in every window that has a groove.
    """

    bpm: float | None = None
    tempo_range: tuple[float, float] = (70.0, 140.0)
    steps: int = DEFAULT_STEPS
    sampler: str = "dpmpp"
    guidance: float = 2.0
    seed: int = 0
    mood: str | None = None
    caption: str | None = None
    keep_audio: str | None = None
    soundfont: str | None = None
    overlap_bars: int = DEFAULT_OVERLAP_BEATS // 4
    threshold: float = 0.5
    fade_bars: int = 2
    cadence: bool = True
    key: str | None = KEY_AUTO
    strict_key: bool = False
    groove: str = GROOVE_AUTO
    groove_guidance: float = DEFAULT_GROOVE_GUIDANCE

    def to_dict(self) -> dict:
        """Plain JSON values."""
        values = dataclasses.asdict(self)
        values["tempo_range"] = list(self.tempo_range)
        return values

    def musical_key(self) -> Key | None:
        """``key`` parsed (``None`` when the model chooses); raises ValueError for an unknown name."""
        if self.key is None or self.key.strip().lower() in (KEY_AUTO, KEY_NONE):
            return None
        return Key.parse(self.key)

    def follows_first_key(self) -> bool:
        """Whether ``key`` is ``"auto"``: the key of the first window holds for the rest."""
        return self.key is not None and self.key.strip().lower() == KEY_AUTO

    def follows_groove(self) -> bool:
        """Whether ``groove`` is ``"auto"``: each window gets the groove of the music before it."""
        return self.groove == GROOVE_AUTO

    def fixed_groove(self) -> np.ndarray | None:
        """The groove of the ``groove`` MIDI file, ``None`` for ``"auto"`` and ``"none"``.

        Raises ValueError for a missing or unreadable file, or one with no notes.
        """
        if self.groove in (GROOVE_AUTO, GROOVE_NONE):
            return None
        if not Path(self.groove).is_file():
            raise ValueError(f"--groove is auto, none or a MIDI file; not found: {self.groove}")
        groove = groove_vector(midi_to_pianoroll(self.groove).to_array())
        if not groove.any():
            raise ValueError(f"{self.groove}: no notes to take a groove from")
        return groove

    @classmethod
    def from_dict(cls, values: dict) -> GenerationOptions:
        """Inverse of :meth:`to_dict` (unknown keys are ignored, so older manifests still load)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in names}
        # Manifests written before groove guidance existed were sampled without it.
        kept.setdefault("groove_guidance", 0.0)
        if "tempo_range" in kept:
            kept["tempo_range"] = tuple(kept["tempo_range"])
        return cls(**kept)


@dataclass
class GenerationResult:
    """What :meth:`ScoringPipeline.generate` wrote and decided."""

    video: Path
    files: dict[str, Path]
    plan: TimingPlan
    roll: PianoRoll
    manifest: dict
    timings_s: dict[str, float] = field(default_factory=dict)


@dataclass
class _Score:
    """The state a generation leaves behind and a regeneration starts from (saved as ``OUT.npz``)."""

    roll: np.ndarray  # bool (2, steps, 128): the stitched piece before the ending
    dynamic: np.ndarray
    semantic: np.ndarray
    segments: np.ndarray
    intensity: np.ndarray


def side_paths(output: str | Path) -> dict[str, Path]:
    """``OUT.mp4`` -> the paths of every output, keyed ``video``, ``mid``, ``wav``, ``json``, ``png``, ``npz``."""
    output = Path(output)
    paths = {"video": output}
    paths.update({suffix[1:]: output.with_suffix(suffix) for suffix in SIDE_SUFFIXES})
    return paths


def sha256_of(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def window_seed(seed: int, window: int, revision: int = 0) -> int:
    """A 63-bit seed for one window, derived deterministically from the user's seed."""
    state = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, window, revision]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def estimate_key(roll: PianoRoll) -> tuple[int, str]:
    """Krumhansl-Kessler key (tonic pitch class, ``major``/``minor``) of ``roll``, as the metrics estimate it."""
    return estimate_key_of_notes(beat_notes_from_pianoroll(roll.to_array()))


def _key_of_known_music(roll: np.ndarray, free: np.ndarray) -> Key | None:
    """The estimated key of the notes of ``roll`` (bool ``(2, steps, 128)``) outside the ``free`` steps."""
    known = ~free[:, None]
    onset = roll[ONSET] & known
    if not onset.any():
        return None
    return Key(*estimate_key(PianoRoll(onset, roll[SUSTAIN] & known)))


def _groove_of_known_music(roll: np.ndarray, free: np.ndarray) -> np.ndarray | None:
    """The groove (:func:`groove_vector`) of the bars of ``roll`` with no ``free`` step; ``None`` if none sounds."""
    n_bars = roll.shape[1] // STEPS_PER_BAR
    steps = n_bars * STEPS_PER_BAR
    known_bars = ~free[:steps].reshape(n_bars, STEPS_PER_BAR).any(axis=1)
    bars = roll[:, :steps].reshape(2, n_bars, STEPS_PER_BAR, -1)[:, known_bars]
    groove = groove_vector(bars.reshape(2, -1, bars.shape[-1]))
    return groove if groove.any() else None


def shape_ending(roll: PianoRoll, plan: TimingPlan, fade_bars: int, cadence: bool,
                 key: Key | None = None) -> tuple[PianoRoll, dict]:
    """Fade the last bars out, stop every note by the video's end and (optionally) end on the tonic.

    Velocities are offsets around ``DEFAULT_VELOCITY`` (``render_midi`` adds the video's level to
    them), falling linearly by up to 40 over the last ``fade_bars`` bars. The cadence replaces the
    last bar by a tonic triad of ``key`` (default: the key estimated from the notes), voiced around
    the piece's median pitch over a bass tonic, held to the end.
    """
    end_step = int(np.floor(plan.tempo_map.beat_of_time(plan.duration_s) * STEPS_PER_BEAT + 1e-6))
    end_step = min(end_step, plan.n_beats * STEPS_PER_BEAT)
    notes = [n for n in roll.to_notes() if n.start < end_step]
    if key is not None:
        tonic, mode = key.tonic, key.mode
    else:
        tonic, mode = estimate_key(PianoRoll.from_notes(notes, n_steps=end_step)) if notes else (0, "major")
    info = {"key_tonic": tonic, "key_mode": mode, "cadence": False, "end_step": end_step}
    last_bar = (plan.n_bars - 1) * STEPS_PER_BAR
    if cadence and notes and last_bar < end_step:
        centre = int(np.median([n.pitch for n in notes]))
        third = 4 if mode == "major" else 3
        root = centre - ((centre - tonic) % 12)
        chord = [root - 12, root, root + third, root + 7]
        notes = [Note(n.pitch, n.start, min(n.duration, last_bar - n.start), n.velocity)
                 for n in notes if n.start < last_bar]
        notes += [Note(int(np.clip(p, 0, N_PITCHES - 1)), last_bar, end_step - last_bar, DEFAULT_VELOCITY)
                  for p in chord]
        info["cadence"] = True
    fade_start = max(0, end_step - fade_bars * STEPS_PER_BAR)
    shaped = []
    for note in notes:
        duration = max(1, min(note.duration, end_step - note.start))
        drop = 40.0 * max(0.0, (note.start - fade_start) / max(1, end_step - fade_start))
        shaped.append(Note(note.pitch, note.start, duration, int(np.clip(note.velocity - drop, 1, 127))))
    return PianoRoll.from_notes(shaped, n_steps=roll.n_steps), info


class ScoringPipeline:
    """Write background music for a video with a trained Diff-BGM denoiser.

    Parameters
    ----------
    model:
        A :class:`~diffbgm.models.denoiser.DiffBGMDenoiser` in eval mode on ``device``.
    model_config:
        Its :class:`~diffbgm.models.config.ModelConfig`.
    embedder:
        The sentence embedder of the semantic stream (the one used at training).
    analysis_config:
        Video-analysis settings (:class:`diffbgm.video.analysis.AnalysisConfig`); ``None`` = defaults.
    model_sha256:
        Digest of the weights file, written to the manifest.
    device:
        Torch device of the model and encoders.
    cache_dir:
        Where video analyses are cached (``None``: no cache).
    image_encoder:
        The analysis' image encoder (``None``: EfficientNet-Lite0 on ``device``).
    """

    def __init__(self, model, model_config, embedder: SentenceEmbedder, analysis_config=None,
                 model_sha256: str = "", device: str = "cpu", cache_dir: str | Path | None = None,
                 image_encoder=None) -> None:
        from diffbgm.video.analysis import AnalysisConfig

        self.model = model
        self.model_config = model_config
        self.embedder = embedder
        self.analysis_config = analysis_config or AnalysisConfig()
        self.model_sha256 = model_sha256
        self.device = device
        self.cache_dir = cache_dir
        self.image_encoder = image_encoder

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu", **components) -> ScoringPipeline:
        """Load the denoiser from ``path`` (``None``: the model shipped in the package) and build the pipeline.

        Raises
        ------
        GenerationError
            No model at ``path``, no shipped model, or a file that is not a diffbgm checkpoint.
        """
        from diffbgm.models import CheckpointError, load_checkpoint

        if path is None:
            if not DEFAULT_WEIGHTS.is_file():
                raise GenerationError("no default model shipped; pass --model")
            path = DEFAULT_WEIGHTS
        path = Path(path)
        if not path.is_file():
            raise GenerationError(f"model not found: {path}")
        try:
            model, config = load_checkpoint(path, device)
        except CheckpointError as error:
            raise GenerationError(str(error)) from None
        embedder = components.pop("embedder", None) or SentenceEmbedder(device=device)
        return cls(model, config, embedder, model_sha256=sha256_of(path), device=device, **components)

    def __call__(self, video: str | Path, output: str | Path,
                 options: GenerationOptions = GenerationOptions()) -> GenerationResult:
        return self.generate(video, output, options)

    # --- generation -------------------------------------------------------------------------------

    def generate(self, video: str | Path, output: str | Path,
                 options: GenerationOptions = GenerationOptions()) -> GenerationResult:
        """Score ``video`` into ``output`` (and its side files); see the module docstring.

        Raises
        ------
        GenerationError
            Bad options, an unwritable output, a video too short for one bar.
        diffbgm.video.decode.VideoError
            The input is not a readable video.
        """
        from diffbgm.conditions.timing import VideoTooShortError
        from diffbgm.video.analysis import analyze_video

        video, paths = self._check_request(video, output, options)
        stopwatch = _Stopwatch()
        analysis = analyze_video(video, self.analysis_config, progress=False, cache_dir=self.cache_dir,
                                 captions=options.caption, mood=options.mood, encoder=self.image_encoder,
                                 device=self.device)
        stopwatch.lap("analyze")
        try:
            plan = plan_timing(analysis.duration_s, analysis.cuts_s,
                               TimingConfig(bpm_range=tuple(options.tempo_range), bpm=options.bpm))
        except VideoTooShortError as error:
            raise GenerationError(str(error)) from None
        stopwatch.lap("timing")
        conditions = conditions_from_video(analysis, plan)
        score = _Score(
            roll=np.zeros((2, plan.n_beats * STEPS_PER_BEAT, N_PITCHES), dtype=bool),
            dynamic=conditions.dynamic,
            semantic=conditions.semantic(self.embedder).astype(np.float32),
            segments=conditions.segments,
            intensity=conditions.intensity,
        )
        stopwatch.lap("conditions")
        free = np.ones(score.roll.shape[1], dtype=bool)
        key = self._fill(score, free, options, revision=0)
        stopwatch.lap("diffusion")
        manifest = {"video": str(video.resolve()), "shots": [list(map(float, s)) for s in analysis.shots],
                    "revision": 0, "regenerated": []}
        return self._write(video, paths, plan, score, options, key, manifest, stopwatch)

    def regenerate(self, video: str | Path, output: str | Path, start_s: float, end_s: float,
                   overrides: dict | None = None) -> GenerationResult:
        """Re-write ``[start_s, end_s]`` of an earlier result at ``output``, keeping everything else.

        The range is widened to whole beats; the earlier piece (``OUT.npz``) is known outside it and
        the windows that cover it are generated again with fresh noise (a new revision of the seed).
        ``overrides`` replaces sampling options (``steps``, ``sampler``, ``guidance``, ``groove_guidance``,
        ``seed``, ``keep_audio``, ``soundfont``); the timing and the conditions stay those of the earlier result.
        """
        video = Path(video)
        paths = side_paths(output)
        for key in ("json", "npz"):
            if not paths[key].is_file():
                raise GenerationError(f"no earlier result to regenerate: {paths[key]} is missing")
        try:
            manifest = json.loads(paths["json"].read_text())
            options = GenerationOptions.from_dict(manifest["options"])
            with np.load(paths["npz"]) as stored:
                score = _Score(**{name: stored[name] for name in ("roll", "dynamic", "semantic", "segments",
                                                                   "intensity")})
            plan = plan_from_beats(manifest["beats_s"], manifest["duration_s"], manifest["cuts_s"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise GenerationError(f"cannot read the earlier result {paths['json']}: {error}") from None
        allowed = {"steps", "sampler", "guidance", "groove_guidance", "seed", "keep_audio", "soundfont"}
        unknown = set(overrides or {}) - allowed
        if unknown:
            raise GenerationError(f"cannot change {', '.join(sorted(unknown))} when regenerating")
        options = dataclasses.replace(options, **(overrides or {}))
        video, paths = self._check_request(video, output, options)
        if not 0 <= start_s < end_s:
            raise GenerationError(f"--regenerate needs 0 <= START < END, got {start_s:g} {end_s:g}")
        if start_s >= plan.duration_s:
            raise GenerationError(f"--regenerate starts at {start_s:g} s, after the video's end "
                                  f"({plan.duration_s:.2f} s)")
        score.roll = score.roll.astype(bool)
        first = int(np.floor(plan.tempo_map.beat_of_time(start_s) + 1e-9)) * STEPS_PER_BEAT
        last = int(np.ceil(plan.tempo_map.beat_of_time(min(end_s, plan.duration_s)) - 1e-9)) * STEPS_PER_BEAT
        first, last = max(0, first), min(score.roll.shape[1], max(last, first + STEPS_PER_BEAT))
        stopwatch = _Stopwatch()
        free = np.zeros(score.roll.shape[1], dtype=bool)
        free[first:last] = True
        revision = int(manifest.get("revision", 0)) + 1
        key = self._fill(score, free, options, revision=revision)
        stopwatch.lap("diffusion")
        start_time, end_time = (float(plan.tempo_map.time_of_beat(s / STEPS_PER_BEAT)) for s in (first, last))
        manifest.update(revision=revision,
                        regenerated=list(manifest.get("regenerated", [])) + [[start_time, end_time]])
        return self._write(video, paths, plan, score, options, key, manifest, stopwatch)

    # --- internals --------------------------------------------------------------------------------

    def _check_request(self, video: str | Path, output: str | Path,
                       options: GenerationOptions) -> tuple[Path, dict[str, Path]]:
        from diffbgm.diffusion import SAMPLERS
        from diffbgm.render.output import OutputPathError

        video = Path(video)
        if not video.is_file():
            raise GenerationError(f"video not found: {video}")
        if options.sampler not in SAMPLERS:
            raise GenerationError(f"unknown sampler {options.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if options.steps < 1:
            raise GenerationError(f"steps must be >= 1, got {options.steps}")
        if not 0 <= options.overlap_bars < WINDOW_BEATS // 4:
            raise GenerationError(f"overlap must lie in [0, {WINDOW_BEATS // 4}) bars, got {options.overlap_bars}")
        if options.keep_audio is not None:
            try:
                parse_level(options.keep_audio)
            except ValueError as error:
                raise GenerationError(str(error)) from None
        try:
            options.musical_key()
            options.fixed_groove()
        except ValueError as error:
            raise GenerationError(str(error)) from None
        if options.soundfont is not None and not Path(options.soundfont).is_file():
            raise GenerationError(f"SoundFont not found: {options.soundfont}")
        paths = side_paths(output)
        try:
            for path in paths.values():
                check_output_path(path, inputs=(video,))
        except OutputPathError as error:
            raise GenerationError(str(error)) from None
        return video, paths

    def _fill(self, score: _Score, free: np.ndarray, options: GenerationOptions, revision: int) -> Key | None:
        """Generate the ``free`` steps of ``score.roll`` window by window, the rest being known.

        Returns the key the windows were held to: the given one, the one ``"auto"`` settled on (from
        the music already known when regenerating, else from the first window written), or ``None``.
        """
        from diffbgm.diffusion import restrict_pitches, sample

        n_beats = score.segments.shape[0]
        spans = window_spans(n_beats, WINDOW_BEATS, options.overlap_bars * 4)
        conditions = VideoConditions(score.dynamic, score.segments, [""] * n_beats, score.intensity)
        batch = condition_windows(conditions, score.semantic, spans)
        n_steps = score.roll.shape[1]
        free = free.copy()
        key = options.musical_key()
        if options.follows_first_key():
            key = _key_of_known_music(score.roll, free)
        # A model that reads the key is told it; the others (and --strict-key) get its scale as a mask.
        reads_key = self.model.config.unet.scale_input
        hard_key = options.strict_key or not reads_key
        reads_groove = self.model.config.unet.groove_input
        fixed_groove = options.fixed_groove() if reads_groove else None
        for index, span in enumerate(spans):
            start = span.start_beat * STEPS_PER_BEAT
            stop = min(start + WINDOW_STEPS, n_steps)
            if not free[start:stop].any():
                continue
            known, mask = self._window_context(score.roll, free, span)
            if key is not None and hard_key:
                known, mask = restrict_pitches(torch.from_numpy(key.pitch_mask()), known, mask)
            conditions = batch[index]
            if key is not None and reads_key:
                conditions = conditions.with_scale(torch.from_numpy(scale_vector(key.pitch_mask()))[None])
            groove = fixed_groove
            if reads_groove and options.follows_groove():
                groove = _groove_of_known_music(score.roll, free)
            if groove is not None:
                conditions = conditions.with_groove(torch.from_numpy(groove)[None])
            generator = torch.Generator(device="cpu").manual_seed(window_seed(options.seed, index, revision))
            probabilities = sample(
                self.model, _to_device(conditions, self.device), sampler=options.sampler, steps=options.steps,
                guidance_scale=options.guidance, generator=generator, known=known.to(self.device),
                known_mask=mask.to(self.device), groove_guidance=options.groove_guidance,
            )
            window = probabilities[0].float().cpu().numpy() > options.threshold
            window[SUSTAIN] &= ~window[ONSET]
            new = free[start:stop]
            score.roll[:, start:stop][:, new] = window[:, : stop - start][:, new]
            free[start:stop] = False
            logger.info("window %d/%d done", index + 1, len(spans))
            if key is None and options.follows_first_key():
                key = _key_of_known_music(score.roll, free)
                if key is not None:
                    logger.info("the music settled in %s", key)
        return key

    @staticmethod
    def _window_context(roll: np.ndarray, free: np.ndarray, span: WindowSpan) -> tuple[torch.Tensor, torch.Tensor]:
        """Known notes and mask ``(1, 2, 128, 128)`` of a window: every step not ``free`` is known."""
        start = span.start_beat * STEPS_PER_BEAT
        length = min(WINDOW_STEPS, roll.shape[1] - start)
        known = np.zeros((2, WINDOW_STEPS, N_PITCHES), dtype=np.float32)
        known[:, :length] = roll[:, start:start + length]
        mask = np.zeros((1, 1, WINDOW_STEPS, 1), dtype=np.float32)
        mask[0, 0, :length, 0] = ~free[start:start + length]
        return torch.from_numpy(known)[None], torch.from_numpy(mask).expand(1, 2, WINDOW_STEPS, N_PITCHES)

    def _write(self, video: Path, paths: dict[str, Path], plan: TimingPlan, score: _Score,
               options: GenerationOptions, key: Key | None, manifest: dict, stopwatch: _Stopwatch) -> GenerationResult:
        """Ending, MIDI, audio, mux, picture and manifest into a staging folder, then all moved into place."""
        onset, sustain = score.roll[ONSET], score.roll[SUSTAIN] & ~score.roll[ONSET]
        roll, ending = shape_ending(PianoRoll(onset, sustain), plan, options.fade_bars, options.cadence, key)
        pm = render_midi(roll, plan, intensity=score.intensity, velocity_range=DEFAULT_VELOCITY_RANGE)
        stopwatch.lap("midi")
        original = None
        gain = 0.0
        if options.keep_audio is not None:
            gain = parse_level(options.keep_audio)
            original = read_audio(video, SAMPLE_RATE)
        audio = render_audio(pm, plan.duration_s, soundfont=options.soundfont, original=original,
                             original_gain=gain)
        stopwatch.lap("audio")
        staging = Path(tempfile.mkdtemp(prefix=f".{paths['video'].stem}.staging-", dir=paths["video"].resolve().parent))
        try:
            staged = {key: staging / path.name for key, path in paths.items()}
            pm.write(str(staged["mid"]))
            write_wav(audio, staged["wav"])
            mux_audio(video, audio, staged["video"])
            stopwatch.lap("mux")
            render_picture(roll, plan, staged["png"], shots=manifest.get("shots"))
            stopwatch.lap("picture")
            np.savez_compressed(staged["npz"], roll=score.roll, dynamic=score.dynamic, semantic=score.semantic,
                                segments=score.segments, intensity=score.intensity)
            manifest = self._manifest(plan, options, manifest, ending, stopwatch.timings, paths)
            staged["json"].write_text(json.dumps(manifest, indent=2))
            _commit(staged, paths, staging)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return GenerationResult(video=video, files=paths, plan=plan, roll=roll, manifest=manifest,
                                timings_s=stopwatch.timings)

    def _manifest(self, plan: TimingPlan, options: GenerationOptions, extra: dict, ending: dict,
                  timings: dict, paths: dict[str, Path]) -> dict:
        return {
            "format": "diffbgm-generation",
            "version": MANIFEST_VERSION,
            **extra,
            "duration_s": plan.duration_s,
            "tempo_bpm": plan.tempo_bpm,
            "n_bars": plan.n_bars,
            "bar_bpm": plan.bar_bpm.tolist(),
            "beats_s": plan.beats_s.tolist(),
            "downbeats_s": plan.downbeats_s.tolist(),
            "cuts_s": plan.cuts_s.tolist(),
            "cut_error_steps": plan.cut_error_steps.tolist(),
            "cut_alignment": {
                "tolerance_steps": plan.aligned_tolerance_steps,
                "aligned_fraction": plan.aligned_fraction,
                "n_cuts": len(plan.cuts_s),
                "n_aligned": int(plan.cut_aligned.sum()),
                "mean_error_steps": float(plan.cut_error_steps.mean()) if len(plan.cuts_s) else 0.0,
                "max_error_steps": float(plan.cut_error_steps.max()) if len(plan.cuts_s) else 0.0,
            },
            "seed": options.seed,
            "model_sha256": self.model_sha256,
            "options": options.to_dict(),
            "ending": ending,
            "timings_s": timings,
            "files": {key: path.name for key, path in paths.items()},
        }


class _Stopwatch:
    """Wall time of consecutive stages."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self._clock = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.timings[stage] = round(now - self._clock, 3)
        self._clock = now


def _to_device(batch: ConditionBatch, device: str) -> ConditionBatch:
    return batch.to(device) if device != "cpu" else batch


def _commit(staged: dict[str, Path], paths: dict[str, Path], staging: Path) -> None:
    """Move every staged file to its final path, or none: earlier files are restored on failure."""
    backups: dict[str, Path] = {}
    moved: list[str] = []
    try:
        for key, path in paths.items():
            if path.exists():
                backup = staging / f"backup-{key}"
                os.replace(path, backup)
                backups[key] = backup
        for key, path in paths.items():
            os.replace(staged[key], path)
            moved.append(key)
    except OSError:
        for key in moved:
            paths[key].unlink(missing_ok=True)
        for key, backup in backups.items():
            os.replace(backup, paths[key])
        raise
