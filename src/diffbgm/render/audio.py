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


# Samples converted at a time by the chunked passes below (0.5 MB of float32 stereo): long pieces are
# never converted whole.
CHUNK_FRAMES = 1 << 16
_PCM_SCALE = 32768.0


class Audio:
    """Audio ``(n, channels)`` at ``sample_rate``; :attr:`samples` reads it as float32 in [-1, 1].

    The samples are kept as given: float32 in [-1, 1], or int16 PCM (full scale 32768), as the
    synthesiser and WAV files have them, in half the memory (an hour of 48 kHz stereo: 0.69 GB, 1.38 GB
    as float32). :meth:`chunks` reads either as float32 a piece at a time.
    """

    def __init__(self, samples: np.ndarray, sample_rate: int) -> None:
        if samples.dtype != np.int16:
            samples = np.asarray(samples, np.float32)
        self.data = samples
        self.sample_rate = sample_rate

    @property
    def samples(self) -> np.ndarray:
        """Every sample as float32 in [-1, 1] (a converted copy when held as int16)."""
        return self.data / np.float32(_PCM_SCALE) if self.is_pcm16 else self.data

    @property
    def is_pcm16(self) -> bool:
        return self.data.dtype == np.int16

    @property
    def n_frames(self) -> int:
        return self.data.shape[0]

    @property
    def channels(self) -> int:
        return self.data.shape[1]

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.n_frames / self.sample_rate

    def chunks(self, size: int = CHUNK_FRAMES):
        """``(start, float32 samples)`` of consecutive pieces of ``size`` frames."""
        for start in range(0, self.n_frames, size):
            piece = self.data[start:start + size]
            yield start, piece / np.float32(_PCM_SCALE) if self.is_pcm16 else piece

    def peak(self) -> float:
        """The largest absolute sample, in [0, 1] (no copy of the samples is made)."""
        if not self.data.size:
            return 0.0
        top, bottom = float(self.data.max()), float(self.data.min())
        return max(top, -bottom) / (_PCM_SCALE if self.is_pcm16 else 1.0)


def to_pcm16(samples: np.ndarray) -> np.ndarray:
    """float32 samples in [-1, 1] -> int16 PCM (clipped)."""
    return np.clip(np.rint(samples * _PCM_SCALE), -32768, 32767).astype(np.int16)


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
    """16-bit PCM WAV bytes -> int16 :class:`Audio`, a view of ``data`` (no copy)."""
    with wave.open(io.BytesIO(data)) as reader:
        if reader.getsampwidth() != 2:
            raise SynthesisError(f"expected 16-bit WAV, got {8 * reader.getsampwidth()}-bit")
        channels, rate, frames = reader.getnchannels(), reader.getframerate(), reader.getnframes()
    start = _data_offset(data)
    samples = np.frombuffer(data, dtype="<i2", count=frames * channels, offset=start).reshape(-1, channels)
    return Audio(samples, rate)


def _data_offset(data: bytes) -> int:
    """Where the samples of a RIFF WAVE file's ``data`` chunk begin."""
    offset = 12  # "RIFF", size, "WAVE"
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4:offset + 8], "little")
        if data[offset:offset + 4] == b"data":
            return offset + 8
        offset += 8 + size + (size & 1)  # chunks are padded to an even length
    raise SynthesisError("the WAV file has no data chunk")


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
    return Audio(audio.data[:end], audio.sample_rate) if audio.n_frames > end else audio


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
    peak = audio.peak()
    if peak == 0.0:
        return audio
    return Audio((audio.samples * (db_to_gain(peak_db) / peak)).astype(np.float32), audio.sample_rate)


def fit_to_duration(audio: Audio, duration_s: float, fade_s: float = DEFAULT_FADE_S) -> Audio:
    """Trim or pad with silence to exactly ``round(duration_s * rate)`` samples, fading out the end."""
    return level_and_fit(audio, duration_s, 1.0, fade_s, pcm16=audio.is_pcm16)


def level_and_fit(audio: Audio, duration_s: float, gain: float, fade_s: float = DEFAULT_FADE_S,
                  pcm16: bool = True, in_place: bool = False) -> Audio:
    """``audio`` times ``gain``, trimmed or padded with silence to exactly ``round(duration_s * rate)``
    samples and faded out over its last ``fade_s``: one pass, a chunk at a time, into int16 (``pcm16``)
    or float32, so that a long piece is never held twice as float32. ``in_place`` writes over the
    samples of an int16 ``audio`` at least that long (and returns a view of them)."""
    n = int(round(duration_s * audio.sample_rate))
    if in_place and not (audio.is_pcm16 and pcm16 and audio.n_frames >= n and audio.data.flags.writeable):
        raise ValueError("levelling in place needs writable int16 samples at least as long as the result")
    out = audio.data[:n] if in_place else np.zeros((n, audio.channels), np.int16 if pcm16 else np.float32)
    fade = min(int(round(fade_s * audio.sample_rate)), n)
    ramp = np.linspace(1.0, 0.0, fade, dtype=np.float32)
    for start, piece in audio.chunks():
        if start >= n:
            break
        piece = piece[:n - start] * np.float32(gain)
        stop = start + len(piece)
        if stop > n - fade:  # the fade-out overlaps this chunk
            first = max(start, n - fade)
            piece[first - start:] *= ramp[first - (n - fade):stop - (n - fade), None]
        out[start:stop] = to_pcm16(piece) if pcm16 else piece
    return Audio(out, audio.sample_rate)


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
    channels matched (mono is spread to both sides). The mix is held like the music (int16 or float32)
    and made a chunk at a time.
    """
    if original.sample_rate != music.sample_rate:
        raise ValueError(f"sample rates differ: {music.sample_rate} vs {original.sample_rate}")
    channels = music.channels
    out = np.empty_like(music.data)
    for start, piece in music.chunks():
        sound = Audio(original.data[start:start + len(piece)], original.sample_rate).samples
        if sound.shape[1] != channels:
            sound = np.repeat(sound.mean(axis=1, keepdims=True), channels, axis=1)
        if len(sound) < len(piece):
            sound = np.concatenate([sound, np.zeros((len(piece) - len(sound), channels), np.float32)])
        mixed = np.tanh(piece + np.float32(original_gain) * sound)
        out[start:start + len(piece)] = to_pcm16(mixed) if music.is_pcm16 else mixed
    return Audio(out, music.sample_rate)


def render_audio(
    pm: pretty_midi.PrettyMIDI,
    duration_s: float,
    soundfont: str | Path | None = None,
    original: Audio | None = None,
    original_gain: float = 0.0,
    fade_s: float = DEFAULT_FADE_S,
    peak_db: float = DEFAULT_PEAK_DB,
) -> Audio:
    """Synthesise, normalise, fit to exactly ``duration_s`` and optionally mix in the original sound.

    The piece is synthesised in segments (:mod:`diffbgm.render.segmented`) into one int16 buffer, which
    is then levelled and faded in place: memory holds the int16 audio and one segment's rendering.
    """
    from diffbgm.render.segmented import synthesize_in_segments  # it renders with synthesize()

    raw = synthesize_in_segments(pm, soundfont, min_frames=int(round(duration_s * SAMPLE_RATE)))
    peak = raw.peak()
    music = level_and_fit(raw, duration_s, db_to_gain(peak_db) / peak if peak > 0 else 1.0, fade_s, in_place=True)
    if original is not None and original_gain > 0.0:
        music = mix(music, original, original_gain)
    return music


def write_wav(audio: Audio, path: str | Path) -> Path:
    """Write 16-bit PCM WAV atomically, a chunk at a time."""
    with atomic_output(path) as temp:
        with wave.open(str(temp), "wb") as writer:
            writer.setnchannels(audio.channels)
            writer.setsampwidth(2)
            writer.setframerate(audio.sample_rate)
            if audio.is_pcm16:
                writer.writeframes(np.ascontiguousarray(audio.data, "<i2"))
            else:
                for _, piece in audio.chunks():
                    writer.writeframes(to_pcm16(piece).astype("<i2"))
    return Path(path)
