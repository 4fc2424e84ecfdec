"""The image encoder on a worker thread: the same embeddings as a serial loop, in push order."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from diffbgm.video.embedding_queue import EmbeddingQueue
from diffbgm.video.image_model import EfficientNetLite0Encoder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from footage import photo  # noqa: E402


class RecordingEncoder:
    """Mean colour per frame as its embedding; records the batch sizes and the thread it ran on."""

    def __init__(self) -> None:
        self.batches: list[int] = []
        self.threads: set[str] = set()

    def embed(self, frames: np.ndarray) -> np.ndarray:
        self.batches.append(len(frames))
        self.threads.add(threading.current_thread().name)
        return frames.reshape(len(frames), -1, 3).mean(axis=1).astype(np.float32)


def _frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (12, 16, 3), dtype=np.uint8) for _ in range(n)]


def test_embeddings_come_back_in_push_order_in_serial_batches_off_the_calling_thread():
    frames = _frames(37)
    encoder = RecordingEncoder()
    queue = EmbeddingQueue(encoder, batch_size=8, max_pending=2)
    for frame in frames:
        queue.push(frame)
    rows = queue.finish()
    expected = np.stack([f.reshape(-1, 3).mean(axis=0) for f in frames]).astype(np.float32)
    np.testing.assert_array_equal(rows, expected)
    assert encoder.batches == [8, 8, 8, 8, 5]
    assert threading.current_thread().name not in encoder.threads


def test_a_read_only_frame_pushed_twice_is_embedded_twice():
    frame = _frames(1)[0]
    frame.flags.writeable = False  # decoded frames may stand for several grid points
    queue = EmbeddingQueue(RecordingEncoder(), batch_size=4)
    for _ in range(3):
        queue.push(frame)
    assert queue.finish().shape == (3, 3)


def test_the_shipped_encoder_gives_the_same_numbers_as_a_serial_loop():
    pictures = [photo(name)[:144, :256] for name in ("astronaut", "coffee", "chelsea")]
    frames = [np.ascontiguousarray(p) for p in pictures for _ in range(2)]
    encoder = EfficientNetLite0Encoder(device="cpu")
    serial = np.concatenate([encoder.embed(np.stack(frames[i:i + 4])) for i in range(0, len(frames), 4)])
    with EmbeddingQueue(encoder, batch_size=4) as queue:
        for frame in frames:
            queue.push(frame)
        threaded = queue.finish()
    np.testing.assert_array_equal(threaded, serial)


def test_an_encoder_error_reaches_the_caller():
    class Broken:
        def embed(self, frames):
            raise RuntimeError("encoder broke")

    queue = EmbeddingQueue(Broken(), batch_size=2)
    queue.push(_frames(1)[0])
    with pytest.raises(RuntimeError, match="encoder broke"):
        queue.finish()
