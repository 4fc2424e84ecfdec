"""Video in, music out: analysis -> timing -> conditions -> windowed diffusion -> MIDI and audio.

Built like a diffusers pipeline from its components (the denoiser and its config, the sentence
embedder, the image encoder, the video-analysis settings); :meth:`ScoringPipeline.from_checkpoint`
assembles them from a weights file. :meth:`ScoringPipeline.generate` and
:meth:`ScoringPipeline.regenerate` return a :class:`GenerationResult` in memory; :meth:`GenerationResult.save`
(:func:`diffbgm.pipeline.outputs.write_outputs`) writes the scored video and its side files.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pretty_midi

from diffbgm.conditions.from_video import conditions_from_video
from diffbgm.conditions.text import SentenceEmbedder
from diffbgm.conditions.user_text import apply_shot_moods, apply_user_text
from diffbgm.music.grid import N_PITCHES, ONSET, STEPS_PER_BEAT, SUSTAIN
from diffbgm.music.key import Key
from diffbgm.music.mode import settle_mode, to_parallel_mode
from diffbgm.music.pianoroll import PianoRoll
from diffbgm.music.mood import Mood, key_for_mood
from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig, TimingPlan, VideoTooShortError, timing_config
from diffbgm.pipeline.ending import heard_steps, shape_ending
from diffbgm.pipeline.options import REGENERATE_OPTIONS, GenerationError, GenerationOptions
from diffbgm.pipeline.outputs import MANIFEST_FORMAT, MANIFEST_VERSION, plan_manifest, read_result, sha256_of, write_outputs
from diffbgm.pipeline.windows import Score, fill_windows
from diffbgm.render.audio import SAMPLE_RATE, Audio, mix, parse_level, render_audio
from diffbgm.render.midi import DEFAULT_VELOCITY_RANGE, render_midi
from diffbgm.render.mux import read_audio
from diffbgm.video.cache import file_hash
from diffbgm.video.caption_file import Caption, captions_for_shots

logger = logging.getLogger(__name__)

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "default.safetensors"
# A regeneration must get the video its earlier result was made for; lengths measured by different
# diffbgm versions may differ by a few frames.
REGENERATE_LENGTH_TOLERANCE_S = 0.5

# ``progress(stage, done, total)``: called as a stage begins (done 0) and as its parts finish (done ==
# total at its end). The stages are those of :attr:`GenerationResult.timings_s`; diffusion's parts are
# its windows.
Progress = Callable[[str, int, int], None]


@dataclass
class GenerationResult:
    """What :meth:`ScoringPipeline.generate` decided and wrote into memory; :meth:`save` puts it on disk."""

    video: Path
    options: GenerationOptions
    plan: TimingPlan
    score: Score
    roll: PianoRoll
    midi: pretty_midi.PrettyMIDI
    audio: Audio  # the soundtrack put on the video: the music, mixed with the video's own sound under keep_audio
    manifest: dict
    timings_s: dict[str, float] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    music: Audio | None = None  # the music alone (OUT.wav); None: the same as audio

    @property
    def music_only(self) -> Audio:
        """The music without the video's own sound (what ``OUT.wav`` holds)."""
        return self.audio if self.music is None else self.music

    def save(self, output: str | Path, timeline: bool = False) -> dict[str, Path]:
        """Write ``output`` (the scored video) and its side files, all or none; return their paths
        (also kept in :attr:`files`). ``timeline`` adds ``OUT.otio`` for an editor's NLE."""
        started = time.perf_counter()
        self.files = write_outputs(self, output, timeline)
        self.timings_s["write"] = round(time.perf_counter() - started, 3)
        return self.files


class ScoringPipeline:
    """Write background music for a video with a trained Diff-BGM denoiser.

    Parameters
    ----------
    model:
        A :class:`~diffbgm.models.denoiser.DiffBGMDenoiser` in eval mode on ``device``.
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
        The analysis' image encoder (``None``: EfficientNet-Lite0 on ``device``, loaded on first use).
    """

    def __init__(self, model, embedder: SentenceEmbedder, analysis_config=None, model_sha256: str = "",
                 device: str = "cpu", cache_dir: str | Path | None = None, image_encoder=None) -> None:
        from diffbgm.video.analysis import AnalysisConfig

        self.model = model
        self.embedder = embedder
        self.analysis_config = analysis_config or AnalysisConfig()
        self.model_sha256 = model_sha256
        self.device = device
        self.cache_dir = cache_dir
        self._image_encoder = image_encoder

    @property
    def model_config(self):
        """The denoiser's :class:`~diffbgm.models.config.ModelConfig`."""
        return self.model.config

    @property
    def image_encoder(self):
        """The analysis' image encoder, loaded once."""
        if self._image_encoder is None:
            from diffbgm.video.image_model import EfficientNetLite0Encoder

            self._image_encoder = EfficientNetLite0Encoder(device=self.device)
        return self._image_encoder

    @classmethod
    def from_checkpoint(cls, path: str | Path | None = None, device: str = "cpu", **components) -> ScoringPipeline:
        """Load the denoiser from ``path`` (``None``: the model shipped in the package) and build the pipeline.

        Raises
        ------
        GenerationError
            No model at ``path``, no shipped model, or a file that is not a diffbgm checkpoint.
        """
        from diffbgm.models import CheckpointError, load_checkpoint, text_embedder

        if path is None:
            if not DEFAULT_WEIGHTS.is_file():
                raise GenerationError("no default model shipped; pass --model")
            path = DEFAULT_WEIGHTS
        path = Path(path)
        if not path.is_file():
            raise GenerationError(f"model not found: {path}")
        try:
            model, config = load_checkpoint(path, device)
            # The sentence encoder the model was trained with, named in its config.
            embedder = components.pop("embedder", None) or text_embedder(config, device)
        except CheckpointError as error:
            raise GenerationError(str(error)) from None
        return cls(model, embedder, model_sha256=sha256_of(path), device=device, **components)

    def __call__(self, video: str | Path, options: GenerationOptions = GenerationOptions()) -> GenerationResult:
        return self.generate(video, options)

    def generate(self, video: str | Path, options: GenerationOptions = GenerationOptions(),
                 cuts=None, captions=None, progress: Progress | None = None,
                 shot_moods=None) -> GenerationResult:
        """Score ``video``; nothing is written (see :meth:`GenerationResult.save`).

        ``cuts`` (a :class:`~diffbgm.video.shots.ShotList` or cut times) replaces shot detection;
        ``captions`` (one string, one per shot, or timed :class:`~diffbgm.video.caption_file.Caption`
        entries) replaces the automatic captions; ``shot_moods`` (mood words or ``None``, one per shot)
        replaces the moods of single shots. ``progress`` is told the stages and windows as they go
        (see :data:`Progress`).

        Raises
        ------
        GenerationError
            Bad options, a video too short to score.
        diffbgm.video.decode.VideoError
            The input is not a readable video.
        """
        from diffbgm.video.analysis import analyze_video

        video = self._check_video(video)
        options.check()
        if options.seed is None:
            # Same video, same music; another video, other music (the seed is kept in the manifest).
            options = dataclasses.replace(options, seed=int(file_hash(video)[:8], 16))
        stopwatch = _Stopwatch(progress)
        stopwatch.begin("analyze")
        # The text model's imports take seconds: they overlap the analysis, which needs the GIL little.
        self.embedder.load_in_background()
        analysis = analyze_video(video, self.analysis_config, progress=False, cache_dir=self.cache_dir,
                                 cuts=cuts, encoder=self.image_encoder, device=self.device)
        if captions is None:
            captions = options.caption
        elif not isinstance(captions, str) and captions and isinstance(captions[0], Caption):
            captions = captions_for_shots(captions, analysis.shots)
        try:
            analysis = apply_user_text(analysis, self.embedder, captions, options.mood)
            if shot_moods is not None:
                analysis = apply_shot_moods(analysis, self.embedder, shot_moods)
        except ValueError as error:
            raise GenerationError(str(error)) from None
        stopwatch.lap("analyze", then="timing")
        mood = overall_mood(analysis)
        try:
            plan = timing_plan(analysis, options, mood)
        except VideoTooShortError as error:
            raise GenerationError(str(error)) from None
        stopwatch.lap("timing", then="conditions")
        conditions = conditions_from_video(analysis, plan)
        score = Score(
            roll=np.zeros((2, plan.n_beats * STEPS_PER_BEAT, N_PITCHES), dtype=bool),
            dynamic=conditions.dynamic,
            semantic=conditions.semantic(self.embedder).astype(np.float32),
            segments=conditions.segments,
            intensity=conditions.intensity,
        )
        stopwatch.lap("conditions", then="diffusion")
        free = np.ones(score.roll.shape[1], dtype=bool)
        # A pickup's first beats lie before the video: known silent, so that the model writes the heard
        # beats as an upbeat into the first bar line instead of a downbeat chord that would sound at 0 s.
        free[:plan.start_beat * STEPS_PER_BEAT] = False
        key = fill_windows(self.model, score, free, options, revision=0, device=self.device,
                           start_key=Key(*key_for_mood(mood, options.seed)), progress=stopwatch.progress,
                           metric_steps=plan.metric_steps)
        if key is not None and options.follows_first_key() and self.model.config.unet.scale_input:
            # The model is told the mood's scale, not its tonic: make the notes sound in the mood's mode.
            score.roll, key = settle_mode(score.roll, key, heard_steps(plan))
        stopwatch.lap("diffusion", then="midi")
        manifest = {"video": str(video.resolve()), "shots": [list(map(float, s)) for s in analysis.shots],
                    "transitions": [t.to_dict() for t in analysis.transitions],
                    "mood": {"valence": mood.valence, "arousal": mood.arousal, "words": mood.nearest_words(2)},
                    "revision": 0, "regenerated": []}
        return self._finish(video, plan, score, options, key, manifest, stopwatch)

    def regenerate(self, video: str | Path, earlier: str | Path, start_s: float, end_s: float,
                   overrides: dict | None = None, progress: Progress | None = None) -> GenerationResult:
        """Re-write ``[start_s, end_s]`` of the earlier result at ``earlier`` (its ``OUT.mp4``), keeping the rest.

        The range is widened to whole beats; the earlier piece (``OUT.npz``) is known outside it and
        the windows that cover it are generated again with fresh noise (a new revision of the seed).
        ``overrides`` replaces options named in :data:`~diffbgm.pipeline.options.REGENERATE_OPTIONS`;
        the timing and the conditions stay those of the earlier result.
        """
        video = self._check_video(video)
        manifest, options, score, plan = read_result(earlier)
        unknown = set(overrides or {}) - set(REGENERATE_OPTIONS)
        if unknown:
            raise GenerationError(f"cannot change {', '.join(sorted(unknown))} when regenerating "
                                  f"(only {', '.join(REGENERATE_OPTIONS)})")
        options = dataclasses.replace(options, **(overrides or {}))
        options.check()
        from diffbgm.video.decode import probe_video

        length_s = probe_video(video).duration_s
        if abs(length_s - plan.duration_s) > REGENERATE_LENGTH_TOLERANCE_S:
            raise GenerationError(f"{video} lasts {length_s:.2f} s but the earlier result at {earlier} was made for a "
                                  f"{plan.duration_s:.2f}-s video; regenerate with the video it was made for")
        if not 0 <= start_s < end_s:
            raise GenerationError(f"--regenerate needs 0 <= START < END, got {start_s:g} {end_s:g}")
        if start_s >= plan.duration_s:
            raise GenerationError(f"--regenerate starts at {start_s:g} s, after the video's end "
                                  f"({plan.duration_s:.2f} s)")
        first = int(np.floor(plan.tempo_map.beat_of_time(start_s) + 1e-9)) * STEPS_PER_BEAT
        last = int(np.ceil(plan.tempo_map.beat_of_time(min(end_s, plan.duration_s)) - 1e-9)) * STEPS_PER_BEAT
        first, last = max(0, first), min(score.roll.shape[1], max(last, first + STEPS_PER_BEAT))
        stopwatch = _Stopwatch(progress)
        stopwatch.begin("diffusion")
        free = np.zeros(score.roll.shape[1], dtype=bool)
        free[first:last] = True
        revision = int(manifest.get("revision", 0)) + 1
        ending = manifest.get("ending") or {}
        earlier_key = Key(int(ending["key_tonic"]), ending["key_mode"]) if "key_tonic" in ending else None
        key = fill_windows(self.model, score, free, options, revision=revision, device=self.device,
                           known_key=earlier_key, progress=stopwatch.progress, metric_steps=plan.metric_steps)
        if key is not None and options.follows_first_key() and self.model.config.unet.scale_input:
            # As in generate(): the new notes are told the scale, and sound in the piece's mode.
            score.roll[:, first:last] = to_parallel_mode(score.roll[:, first:last], key.tonic, key.mode)
        stopwatch.lap("diffusion", then="midi")
        start_time, end_time = (float(plan.tempo_map.time_of_beat(s / STEPS_PER_BEAT)) for s in (first, last))
        kept = {name: manifest[name] for name in ("video", "shots", "transitions", "mood") if name in manifest}
        kept.update(revision=revision, regenerated=list(manifest.get("regenerated", [])) + [[start_time, end_time]])
        return self._finish(video, plan, score, options, key, kept, stopwatch)

    # --- internals --------------------------------------------------------------------------------

    @staticmethod
    def _check_video(video: str | Path) -> Path:
        video = Path(video)
        if not video.is_file():
            raise GenerationError(f"video not found: {video}")
        return video

    def _finish(self, video: Path, plan: TimingPlan, score: Score, options: GenerationOptions, key: Key | None,
                manifest: dict, stopwatch: _Stopwatch) -> GenerationResult:
        """The ending, the MIDI and the audio of a filled score, and its manifest."""
        onset, sustain = score.roll[ONSET], score.roll[SUSTAIN] & ~score.roll[ONSET]
        roll, ending = shape_ending(PianoRoll(onset, sustain), plan, options.fade_bars, options.cadence, key)
        midi = render_midi(roll, plan, intensity=score.intensity, velocity_range=DEFAULT_VELOCITY_RANGE)
        stopwatch.lap("midi", then="audio")
        music = render_audio(midi, plan.duration_s, soundfont=options.soundfont)
        audio = music
        # The video's own sound goes only into the scored video; OUT.wav keeps the music alone.
        if options.keep_audio is not None:
            gain = parse_level(options.keep_audio)
            original = read_audio(video, SAMPLE_RATE) if gain > 0.0 else None
            if original is not None:
                audio = mix(music, original, gain)
            elif gain > 0.0:
                logger.info("%s has no sound to keep; the scored video has the music alone", video.name)
        stopwatch.lap("audio")
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            **manifest,
            **plan_manifest(plan),
            "seed": options.seed,
            "model_sha256": self.model_sha256,
            "options": options.to_dict(),
            "ending": ending,
            "timings_s": stopwatch.timings,
        }
        return GenerationResult(video=video, options=options, plan=plan, score=score, roll=roll, midi=midi,
                                audio=audio, manifest=manifest, timings_s=stopwatch.timings, music=music)


def timing_config_for(analysis, options: GenerationOptions, mood: Mood | None = None) -> TimingConfig:
    """The planner's options for a video: the user's fixed tempo or range, else the tempo of the video's
    mood (``mood``, default :func:`overall_mood`) and motion, held more firmly when ``options.mood``
    gives the user's words."""
    mood = overall_mood(analysis) if mood is None else mood
    return timing_config(bpm=options.bpm, tempo_range=options.tempo_range, arousal=mood.arousal,
                         valence=mood.valence, motion=float(np.mean(analysis.features["motion"])),
                         worded=options.mood is not None)


def timing_plan(analysis, options: GenerationOptions, mood: Mood | None = None) -> TimingPlan:
    """The music's grid for an analysed video (its boundaries, accents and length) under ``options``."""
    return plan_timing(analysis.duration_s, analysis.cuts_s, timing_config_for(analysis, options, mood),
                       accents_s=analysis.accents_s)


def overall_mood(analysis) -> Mood:
    """The mood of the whole video: its shots' moods weighted by their lengths (the user's words, when
    given, are every shot's mood)."""
    moods = list(analysis.shot_moods)
    if not moods:
        return Mood(0.0, 0.0)
    lengths = np.array([max(end - start, 1e-3) for start, end in analysis.shots[:len(moods)]])
    valence = float(np.average([m.valence for m in moods], weights=lengths))
    arousal = float(np.average([m.arousal for m in moods], weights=lengths))
    return Mood(valence, arousal)


def _no_progress(stage: str, done: int, total: int) -> None:
    """The :data:`Progress` of a caller that does not follow the stages."""


class _Stopwatch:
    """Wall time of consecutive stages, each begun and finished also told to ``progress``."""

    def __init__(self, progress: Progress | None = None) -> None:
        self.timings: dict[str, float] = {}
        self._report: Progress = progress or _no_progress
        self._last: tuple[str, int, int] | None = None
        self._clock = time.perf_counter()

    def progress(self, stage: str, done: int, total: int) -> None:
        """Tell the caller's ``progress`` (a stage's parts report through here)."""
        self._last = (stage, done, total)
        self._report(stage, done, total)

    def begin(self, stage: str) -> None:
        self.progress(stage, 0, 1)

    def lap(self, stage: str, then: str | None = None) -> None:
        """``stage`` is over (and the stage ``then`` begins)."""
        now = time.perf_counter()
        self.timings[stage] = round(now - self._clock, 3)
        self._clock = now
        total = self._last[2] if self._last is not None and self._last[0] == stage else 1
        if self._last != (stage, total, total):
            self.progress(stage, total, total)
        if then is not None:
            self.begin(then)
