"""Audio embeddings of piano-roll windows, for the paper's retrieval precision P@K over audio.

Diff-BGM ranks ground-truth music by its similarity to generated music in an audio embedding. Here a
window is rendered the same way whatever wrote it (piano, one velocity, a fixed tempo, the SoundFont
pretty_midi ships, mono at the embedder's rate), so that the embedding compares the notes and nothing
else. The embedding itself runs as a separate command in another environment, because the audio
taggers that ship their weights (musicnn) need a TensorFlow that cannot live beside torch: the command
receives a text file of WAV paths and the path of an ``.npy`` to write, ``(n_files, dim)``.
:func:`musicnn_embedder` builds that command for ``musicnn_worker.py``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from diffbgm.music.grid import STEPS_PER_BEAT
from diffbgm.music.midi import pianoroll_to_midi
from diffbgm.music.tempo import TempoMap
from diffbgm.render.audio import Audio, bundled_soundfont, synthesize, write_wav

# One tempo for every window: POP909 songs mostly lie between 70 and 130 BPM.
RENDER_BPM = 100.0
RENDER_VELOCITY = 80
EMBED_SAMPLE_RATE = 16000  # musicnn's rate
MUSICNN_WORKER = Path(__file__).with_name("musicnn_worker.py")


class AudioEmbeddingError(RuntimeError):
    """The embedding command failed or wrote something unusable."""


def render_window_audio(
    roll: np.ndarray,
    bpm: float = RENDER_BPM,
    sample_rate: int = EMBED_SAMPLE_RATE,
    soundfont: str | Path | None = None,
) -> np.ndarray:
    """A ``(2, steps, 128)`` onset/sustain window -> mono float32 audio lasting exactly its steps.

    Every note gets :data:`RENDER_VELOCITY`; silence (an empty window, or music that stops early) is
    kept as silence, so every window of the same length renders to the same number of samples.
    """
    roll = (np.asarray(roll) > 0.5).astype(np.float32)
    tempo = TempoMap.constant(bpm)
    n_samples = int(round(roll.shape[1] / STEPS_PER_BEAT * 60.0 / bpm * sample_rate))
    mono = np.zeros(n_samples, dtype=np.float32)
    if not roll[0].any():
        return mono
    audio = synthesize(pianoroll_to_midi(roll, tempo, velocity=RENDER_VELOCITY), soundfont or bundled_soundfont())
    samples = audio.samples.mean(axis=1)
    if audio.sample_rate != sample_rate:
        common = gcd(sample_rate, audio.sample_rate)
        samples = resample_poly(samples, sample_rate // common, audio.sample_rate // common)
    kept = min(n_samples, len(samples))
    mono[:kept] = np.clip(samples[:kept], -1.0, 1.0)
    return mono


class ExternalAudioEmbedder:
    """Embeds rolls ``(n, 2, steps, 128)`` -> ``(n, dim)`` by rendering them and running ``command``.

    ``command + [LIST, OUT]`` is run once per call, on the rolls it has not embedded before (results are
    kept by content, so the ground truth of an evaluation is rendered and embedded only once).

    Parameters
    ----------
    command:
        The embedding command, e.g. ``[python, musicnn_worker.py, "--layer", "penultimate"]``.
    name:
        How tables name the embedding.
    bpm, sample_rate, soundfont:
        Rendering settings (:func:`render_window_audio`).
    """

    def __init__(
        self,
        command: list[str],
        name: str = "audio",
        bpm: float = RENDER_BPM,
        sample_rate: int = EMBED_SAMPLE_RATE,
        soundfont: str | Path | None = None,
    ) -> None:
        self.command = list(command)
        self.name = name
        self.bpm = bpm
        self.sample_rate = sample_rate
        self.soundfont = soundfont
        self._embedded: dict[bytes, np.ndarray] = {}

    def __call__(self, rolls: np.ndarray) -> np.ndarray:
        binary = np.asarray(rolls) > 0.5
        keys = [hashlib.sha1(np.packbits(roll).tobytes() + bytes(str(roll.shape), "ascii")).digest() for roll in binary]
        missing = {key: roll for key, roll in zip(keys, binary) if key not in self._embedded}
        if missing:
            vectors = self._run(list(missing.values()))
            self._embedded.update(zip(missing, vectors))
        return np.stack([self._embedded[key] for key in keys])

    def _run(self, rolls: list[np.ndarray]) -> np.ndarray:
        with tempfile.TemporaryDirectory(prefix="diffbgm-embed-") as folder:
            paths = []
            for i, roll in enumerate(rolls):
                mono = render_window_audio(roll, self.bpm, self.sample_rate, self.soundfont)
                paths.append(write_wav(Audio(mono[:, None], self.sample_rate), Path(folder, f"{i:05d}.wav")))
            listing, out = Path(folder, "files.txt"), Path(folder, "embeddings.npy")
            listing.write_text("".join(f"{p}\n" for p in paths), encoding="utf-8")
            try:
                result = subprocess.run([*self.command, str(listing), str(out)], capture_output=True, text=True,
                                        check=False)
            except OSError as error:
                raise AudioEmbeddingError(f"cannot run the {self.name} embedder: {error}") from error
            if result.returncode != 0:
                lines = result.stderr.strip().splitlines() or [f"exit status {result.returncode}"]
                raise AudioEmbeddingError(f"the {self.name} embedder failed: {lines[-1]}")
            try:
                vectors = np.load(out)
            except (OSError, ValueError) as error:
                raise AudioEmbeddingError(f"the {self.name} embedder wrote no readable embeddings") from error
        if vectors.ndim != 2 or len(vectors) != len(rolls) or not np.isfinite(vectors).all():
            raise AudioEmbeddingError(
                f"the {self.name} embedder wrote shape {vectors.shape} (finite: {np.isfinite(vectors).all()}) "
                f"for {len(rolls)} files"
            )
        return vectors.astype(np.float64)


def musicnn_embedder(
    python: str | Path = sys.executable,
    model: str = "MSD_musicnn",
    layer: str = "penultimate",
    bpm: float = RENDER_BPM,
    soundfont: str | Path | None = None,
) -> ExternalAudioEmbedder:
    """An :class:`ExternalAudioEmbedder` running ``musicnn_worker.py`` with ``python``.

    ``python`` must have ``musicnn`` and ``tensorflow-cpu<=2.15`` (see ``docs/default-model.md``).
    """
    command = [str(python), str(MUSICNN_WORKER), "--model", model, "--layer", layer]
    return ExternalAudioEmbedder(command, name=f"musicnn ({model}, {layer})", bpm=bpm, soundfont=soundfont)
