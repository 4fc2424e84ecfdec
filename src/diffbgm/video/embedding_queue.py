"""Image embeddings computed on a worker thread while the analysis goes on decoding.

The image encoder is the costliest part of the analysis and torch releases the GIL in its kernels,
so on two cores it runs beside the decoder, the optical flow and the shot detector instead of
after them. Batches are embedded in the order they were pushed, with the same batch boundaries as
a serial loop, so the embeddings are the same numbers; at most ``max_pending`` batches wait for the
worker, which keeps memory flat when the encoder is slower than the decoder.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np


class EmbeddingQueue:
    """Push frames one by one; :meth:`finish` returns their embeddings ``(N, D)`` in push order.

    Parameters
    ----------
    encoder : anything with ``embed(frames (B, H, W, 3) uint8) -> (B, D) float32``.
    batch_size : frames per ``embed`` call.
    max_pending : batches submitted but not yet embedded before :meth:`push` waits for the oldest.
    """

    def __init__(self, encoder, batch_size: int = 16, max_pending: int = 4) -> None:
        self._encoder = encoder
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._batch: list[np.ndarray] = []
        self._futures: list[Future] = []
        self._waiting: deque[Future] = deque()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="diffbgm-embed")

    def __enter__(self) -> EmbeddingQueue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def push(self, rgb: np.ndarray) -> None:
        """Queue one RGB frame (H, W, 3) uint8 (copied when its batch is submitted)."""
        self._batch.append(rgb)
        if len(self._batch) == self._batch_size:
            self._submit()

    def _submit(self) -> None:
        while len(self._waiting) >= self._max_pending:
            self._waiting.popleft().result()
        future = self._pool.submit(self._encoder.embed, np.stack(self._batch))
        self._futures.append(future)
        self._waiting.append(future)
        self._batch = []

    def finish(self) -> np.ndarray:
        """Every pushed frame's embedding, in push order (waits for the worker)."""
        if self._batch:
            self._submit()
        rows = [future.result() for future in self._futures]
        self.close()
        return np.concatenate(rows)

    def close(self) -> None:
        """Stop the worker; batches not yet started are dropped."""
        self._pool.shutdown(wait=True, cancel_futures=True)
