"""MIDI -> stereo audio fitted to the video: SoundFont synthesis, exact length, fade-out, optional mix.

The SoundFont is the user's, else the first General MIDI one the system has (:data:`SYSTEM_SOUNDFONTS`:
Debian's ``fluid-soundfont-gm`` or ``musescore-general-soundfont*``), else the small one pretty_midi
bundles (TimGM6mb, 6 MB). ``midirenderer`` (a synthesiser inside a PyPI wheel) renders SoundFont 2
files; Debian's ``fluidsynth`` command, when installed, renders a SoundFont other than the bundled one
instead, and it alone reads the compressed SoundFont 3 files (``.sf3``). A system SoundFont that cannot
be rendered falls back to the bundled one, with a warning.
"""

from __future__ import annotations

import io
import math
import logging
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi

from diffbgm.atomic import atomic_output

logger = logging.getLogger(__name__)

# midirenderer always renders 48 kHz stereo 16-bit (checked by experiment; it has no rate option).
SAMPLE_RATE = 48000
# Best first: Debian's fluid-soundfont-gm (140 MB), musescore-general-soundfont-lossless, other
# distributions' FluidR3, Debian's default-GM alternatives, then MuseScore's compressed ones.
SYSTEM_SOUNDFONTS = (
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/MuseScore_General.sf2"),
    Path("/usr/share/soundfonts/FluidR3_GM.sf2"),
    Path("/usr/share/sounds/sf2/default-GM.sf2"),
    Path("/usr/share/sounds/sf3/MuseScore_General_HQ.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf3/default-GM.sf3"),
)
COMPRESSED_SUFFIX = ".sf3"  # SoundFont 3: read by the fluidsynth command, not by midirenderer
DEFAULT_PEAK_DB = -3.0
DEFAULT_FADE_S = 1.5


class SynthesisError(RuntimeError):
    """The MIDI could not be rendered to audio."""


@dataclass
class Audio:
    """float32 samples ``(n, channels)`` in [-1, 1] at ``sample_rate``."""

    samples: np.ndarray
    sample_rate: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.samples.shape[0] / self.sample_rate


def bundled_soundfont() -> Path:
    """The General MIDI SoundFont shipped inside pretty_midi."""
    return Path(pretty_midi.__file__).with_name("TimGM6mb.sf2")


def choose_soundfont(soundfont: str | Path | None = None) -> Path:
    """The user's SoundFont, else the first of :data:`SYSTEM_SOUNDFONTS` present that this machine can
    render (``.sf3`` only with the ``fluidsynth`` command), else the bundled one."""
    if soundfont is not None:
        path = Path(soundfont)
        if not path.is_file():
            raise FileNotFoundError(f"SoundFont not found: {path}")
        return path
    has_command = shutil.which("fluidsynth") is not None
    for path in SYSTEM_SOUNDFONTS:
        if path.is_file() and (has_command or path.suffix.lower() != COMPRESSED_SUFFIX):
            return path
    return bundled_soundfont()


def _midi_bytes(pm: pretty_midi.PrettyMIDI) -> bytes:
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


def decode_wav(data: bytes) -> Audio:
    """16-bit PCM WAV bytes -> :class:`Audio`."""
    with wave.open(io.BytesIO(data)) as reader:
        if reader.getsampwidth() != 2:
            raise SynthesisError(f"expected 16-bit WAV, got {8 * reader.getsampwidth()}-bit")
        frames = reader.readframes(reader.getnframes())
        channels, rate = reader.getnchannels(), reader.getframerate()
    samples = np.frombuffer(frames, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
    return Audio(samples, rate)


def synthesize(pm: pretty_midi.PrettyMIDI, soundfont: str | Path | None = None) -> Audio:
    """Render MIDI to stereo audio with a SoundFont (see the module docstring for the choice).

    The audio runs from time 0 to the MIDI's end, whichever engine renders it: the ``fluidsynth``
    command goes on while voices ring out (3 s more here), midirenderer stops at the end.
    """
    path = choose_soundfont(soundfont)
    midi = _midi_bytes(pm)
    try:
        audio = _render(path, midi)
    except SynthesisError as error:
        if soundfont is not None or path == bundled_soundfont():
            raise
        logger.warning("%s; rendering with pretty_midi's SoundFont instead", error)
        audio = _render(bundled_soundfont(), midi)
    end = int(round(pm.get_end_time() * audio.sample_rate))
    return Audio(audio.samples[:end], audio.sample_rate) if len(audio.samples) > end else audio


def _render(soundfont: Path, midi: bytes) -> Audio:
    command = shutil.which("fluidsynth")
    if command and soundfont != bundled_soundfont():
        return _synthesize_with_command(command, soundfont, midi)
    import midirenderer

    try:
        data = midirenderer.render_wave_from(soundfont.read_bytes(), midi)
    except RuntimeError as error:  # midirenderer's error for a file it cannot read as a SoundFont 2
        raise SynthesisError(f"midirenderer cannot render with SoundFont {soundfont}: {error}") from None
    if not data:
        raise SynthesisError(f"midirenderer produced no audio with SoundFont {soundfont}")
    return decode_wav(bytes(data))


def _synthesize_with_command(command: str, soundfont: Path, midi: bytes) -> Audio:
    with tempfile.TemporaryDirectory(prefix="diffbgm-synth-") as folder:
        midi_path, wav_path = Path(folder, "music.mid"), Path(folder, "music.wav")
        midi_path.write_bytes(midi)
        result = subprocess.run(
            [command, "-ni", "-q", "-T", "wav", "-O", "s16", "-r", str(SAMPLE_RATE), "-F", str(wav_path),
             str(soundfont), str(midi_path)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0 or not wav_path.is_file():
            raise SynthesisError(f"fluidsynth failed: {result.stderr.strip().splitlines()[-1:]}")
        return decode_wav(wav_path.read_bytes())


def normalize_peak(audio: Audio, peak_db: float = DEFAULT_PEAK_DB) -> Audio:
    """Scale so the loudest sample reaches ``peak_db`` dBFS (silence stays silent)."""
    peak = float(np.max(np.abs(audio.samples))) if audio.samples.size else 0.0
    if peak == 0.0:
        return audio
    return Audio((audio.samples * (db_to_gain(peak_db) / peak)).astype(np.float32), audio.sample_rate)


def fit_to_duration(audio: Audio, duration_s: float, fade_s: float = DEFAULT_FADE_S) -> Audio:
    """Trim or pad with silence to exactly ``round(duration_s * rate)`` samples, fading out the end."""
    n = int(round(duration_s * audio.sample_rate))
    samples = audio.samples[:n]
    if samples.shape[0] < n:
        samples = np.concatenate([samples, np.zeros((n - samples.shape[0], samples.shape[1]), np.float32)])
    samples = samples.copy()
    fade = min(int(round(fade_s * audio.sample_rate)), n)
    if fade > 0:
        samples[n - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return Audio(samples.astype(np.float32), audio.sample_rate)


def db_to_gain(db: float) -> float:
    """Decibels -> linear amplitude factor."""
    return float(10.0 ** (db / 20.0))


# Louder than this, the original sound drowns the music and the soft limiter flattens the mix.
MAX_MIX_DB = 12.0
MAX_MIX_GAIN = 10.0 ** (MAX_MIX_DB / 20.0)


def parse_level(text: str) -> float:
    """A level as the user writes it -> linear gain: ``"-12dB"`` (decibels) or ``"0.25"`` (linear)."""
    value = text.strip().lower()
    try:
        gain = db_to_gain(float(value[:-2])) if value.endswith("db") else float(value)
    except ValueError:
        raise ValueError(f"level {text!r} is neither decibels (like -12dB) nor a linear gain (like 0.25)") from None
    if not math.isfinite(gain) or gain < 0:
        raise ValueError(f"a level must be a finite, non-negative gain or decibels, got {text!r}")
    if gain > MAX_MIX_GAIN:
        raise ValueError(f"level {text!r} is above +{MAX_MIX_DB:g}dB, which would clip the mix")
    return gain


def mix(music: Audio, original: Audio, original_gain: float) -> Audio:
    """Music plus the original soundtrack at ``original_gain`` (linear), soft-limited to [-1, 1].

    ``original`` must have the music's sample rate; it is cut or padded to the music's length and its
    channels matched (mono is spread to both sides).
    """
    if original.sample_rate != music.sample_rate:
        raise ValueError(f"sample rates differ: {music.sample_rate} vs {original.sample_rate}")
    n, channels = music.samples.shape
    other = original.samples[:n]
    if other.shape[1] != channels:
        other = np.repeat(other.mean(axis=1, keepdims=True), channels, axis=1)
    if other.shape[0] < n:
        other = np.concatenate([other, np.zeros((n - other.shape[0], channels), np.float32)])
    mixed = music.samples + original_gain * other
    return Audio(np.tanh(mixed).astype(np.float32), music.sample_rate)


def render_audio(
    pm: pretty_midi.PrettyMIDI,
    duration_s: float,
    soundfont: str | Path | None = None,
    original: Audio | None = None,
    original_gain: float = 0.0,
    fade_s: float = DEFAULT_FADE_S,
    peak_db: float = DEFAULT_PEAK_DB,
) -> Audio:
    """Synthesise, normalise, fit to exactly ``duration_s`` and optionally mix in the original sound."""
    music = fit_to_duration(normalize_peak(synthesize(pm, soundfont), peak_db), duration_s, fade_s)
    if original is not None and original_gain > 0.0:
        music = mix(music, original, original_gain)
    return music


def write_wav(audio: Audio, path: str | Path) -> Path:
    """Write 16-bit PCM WAV atomically."""
    pcm = np.clip(np.rint(audio.samples * 32767.0), -32768, 32767).astype("<i2")
    with atomic_output(path) as temp:
        with wave.open(str(temp), "wb") as writer:
            writer.setnchannels(pcm.shape[1])
            writer.setsampwidth(2)
            writer.setframerate(audio.sample_rate)
            writer.writeframes(pcm.tobytes())
    return Path(path)
