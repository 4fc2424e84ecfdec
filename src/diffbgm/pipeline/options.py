"""What a user chooses for one generation, and its defaults (each defined once, here or where it belongs).

The sampling defaults come from :mod:`diffbgm.diffusion.samplers`, the tempo range from
:mod:`diffbgm.music.timing`; the command line reads every default from :class:`GenerationOptions`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from diffbgm.diffusion.samplers import (
    DEFAULT_GROOVE_GUIDANCE,
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    SAMPLERS,
)
from diffbgm.music.grid import WINDOW_BARS, WINDOW_OVERLAP_BARS
from diffbgm.music.key import Key
from diffbgm.music.midi import midi_to_pianoroll
from diffbgm.render.audio import parse_level


class GenerationError(ValueError):
    """A generation request the user must fix (one line; the CLI shows it without a traceback)."""


KEY_AUTO, KEY_NONE = "auto", "none"
GROOVE_AUTO, GROOVE_NONE = "auto", "none"
# The options a --regenerate may change: how the notes are sampled and how they are rendered. The
# timing, the conditions and the key were fixed by the first generation and are kept.
# Seeds are unsigned 32-bit (numpy's and torch's generators take them; -1 would wrap to 2**32 - 1).
MAX_SEED = 2**32 - 1
REGENERATE_OPTIONS = ("steps", "sampler", "guidance", "groove", "groove_guidance", "seed", "keep_audio",
                      "soundfont")


@dataclass(frozen=True)
class GenerationOptions:
    """Everything a user chooses for one generation; saved in the manifest.

    Parameters
    ----------
    bpm, tempo_range:
        A fixed tempo, or the range the timing planner may use (see :mod:`diffbgm.music.timing`);
        with neither, the mood (the user's words or the picture's) and the picture's motion choose
        the range (:func:`diffbgm.music.timing.timing_config`).
    steps, sampler, guidance:
        Diffusion sampling: step count, a key of :data:`diffbgm.diffusion.SAMPLERS`, classifier-free
        guidance scale.
    seed:
        Seeds every window's noise (same seed and options -> the same MIDI); ``None`` takes it from the
        video's content, so the same video gets the same music and another video other music.
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
        (:func:`diffbgm.diffusion.restrict_pitches`). ``"auto"`` (the default) tells a model that reads
        a key the key of the mood (minor for a sad or dark one, major otherwise, on a tonic drawn from
        the seed: :func:`diffbgm.music.mood.key_for_mood`) and keeps every window in it (a model that
        reads none chooses in the first window and is held to the key estimated from it): the model
        writes each window on its own and, left to choose, drifts from key to key (docs/default-model.md).
        ``"none"`` (or ``None``, as older manifests say) lets every window choose; the cadence then uses
        the key estimated from the music.
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
        bar keeps the figure; 0 turns it off, and saves the third model evaluation per step in every
        window that has a groove.
    """

    bpm: float | None = None
    tempo_range: tuple[float, float] | None = None
    steps: int = DEFAULT_STEPS
    sampler: str = DEFAULT_SAMPLER
    guidance: float = DEFAULT_GUIDANCE
    seed: int | None = None
    mood: str | None = None
    caption: str | None = None
    keep_audio: str | None = None
    soundfont: str | None = None
    overlap_bars: int = WINDOW_OVERLAP_BARS
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
        values["tempo_range"] = None if self.tempo_range is None else list(self.tempo_range)
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
        from diffbgm.conditions import groove_vector  # torch: only when a groove file is given

        if not Path(self.groove).is_file():
            raise ValueError(f"--groove is auto, none or a MIDI file; not found: {self.groove}")
        groove = groove_vector(midi_to_pianoroll(self.groove).to_array())
        if not groove.any():
            raise ValueError(f"{self.groove}: no notes to take a groove from")
        return groove

    def check(self) -> None:
        """Raise :class:`GenerationError` (one line) for any value that cannot be generated with."""
        if self.sampler not in SAMPLERS:
            raise GenerationError(f"unknown sampler {self.sampler!r}; choose one of {', '.join(SAMPLERS)}")
        if self.steps < 1:
            raise GenerationError(f"steps must be >= 1, got {self.steps}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise GenerationError(f"the seed must lie in [0, {MAX_SEED}], got {self.seed}")
        for name in ("guidance", "groove_guidance", "threshold"):
            if not math.isfinite(getattr(self, name)):
                raise GenerationError(f"{name} must be a finite number, got {getattr(self, name)}")
        if self.bpm is not None and not (math.isfinite(self.bpm) and self.bpm > 0):
            raise GenerationError(f"bpm must be a positive number, got {self.bpm}")
        if self.tempo_range is not None and not 0 < self.tempo_range[0] <= self.tempo_range[1]:
            raise GenerationError(f"the tempo range needs 0 < LOW <= HIGH, got {self.tempo_range}")
        if not 0 <= self.overlap_bars < WINDOW_BARS:
            raise GenerationError(f"overlap must lie in [0, {WINDOW_BARS}) bars, got {self.overlap_bars}")
        if self.mood is not None and not self.mood.strip():
            raise GenerationError("--mood is empty; give words such as 'calm, warm'")
        try:
            if self.keep_audio is not None:
                parse_level(self.keep_audio)
            self.musical_key()
            self.fixed_groove()
        except ValueError as error:
            raise GenerationError(str(error)) from None
        if self.soundfont is not None:
            check_soundfont(self.soundfont)

    @classmethod
    def from_dict(cls, values: dict) -> GenerationOptions:
        """Inverse of :meth:`to_dict` (unknown keys are ignored, so older manifests still load)."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in values.items() if k in names}
        # Manifests written before groove guidance existed were sampled without it.
        kept.setdefault("groove_guidance", 0.0)
        if kept.get("tempo_range") is not None:
            kept["tempo_range"] = tuple(kept["tempo_range"])
        return cls(**kept)


def check_soundfont(path: str | Path) -> None:
    """:class:`GenerationError` unless ``path`` is a SoundFont 2 file (a RIFF ``sfbk`` chunk)."""
    path = Path(path)
    if not path.is_file():
        raise GenerationError(f"SoundFont not found: {path}")
    with open(path, "rb") as handle:
        header = handle.read(12)
    if header[:4] != b"RIFF" or header[8:12] != b"sfbk":
        raise GenerationError(f"{path} is not a SoundFont 2 file (.sf2)")


def default_of(name: str):
    """The default of one :class:`GenerationOptions` field (what the command line shows and uses)."""
    return {field.name: field.default for field in dataclasses.fields(GenerationOptions)}[name]
