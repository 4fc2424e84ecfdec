"""How much the picture changes into every source frame, measured while the analysis decodes.

The analysis grid (8 frames a second) only says that a cut happened between two grid points; the
source frames between them say which. Each decoded source frame is therefore shrunk (a block
average of its planes, :func:`small_rgb`) and scored against the one before it
(:func:`diffbgm.video.refine.content_score`) as the one decoding pass goes by, so placing a cut on its
frame needs no second decode. Only the scores are kept for every frame; the small pictures are kept
around spikes alone (a flash is told from a cut by comparing the pictures on both sides of it), so
memory stays flat however long the video is.
"""

from __future__ import annotations

import math
from collections import deque

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from diffbgm.video.decode import analysis_size
from diffbgm.video.refine import FLASH_S, MIN_CUT_SCORE, SPIKE_CONTEXT, content_score, is_spike


def small_rgb(frame: av.VideoFrame, max_side: int, reformatter: VideoReformatter | None = None) -> np.ndarray:
    """A small RGB copy of a decoded frame, its longer side about ``max_side`` (not rotated).

    Planar YUV (8 to 16 bits) is averaged over whole blocks of pixels straight from its planes: an
    integer ratio is OpenCV's fast area filter, a third of what swscale's area filter costs at an
    exact size, which matters as every source frame passes here. Other formats go through swscale.
    The colour matrix is BT.601 whatever the video's: the copies are only compared with each other.
    Pass one ``reformatter`` for every frame of a stream: swscale's set-up is then paid once.
    """
    fmt = frame.format
    components = fmt.components
    bits = components[0].bits
    planar_yuv = (
        fmt.name.startswith("yuv") and len(components) == 3 and len(frame.planes) == 3
        and components[0].is_luma and not fmt.is_big_endian and all(c.bits == bits for c in components)
    )
    if not planar_yuv:
        width, height = analysis_size(frame.width, frame.height, max_side)
        reformatter = reformatter or VideoReformatter()
        return reformatter.reformat(frame, width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
    chroma = frame.planes[1]
    step_x, step_y = frame.width // chroma.width, frame.height // chroma.height
    subsampling = max(step_x, step_y, 1)
    block = max(subsampling, round(max(frame.width, frame.height) / max_side) // subsampling * subsampling)
    out_w, out_h = max(1, frame.width // block), max(1, frame.height // block)
    dtype = np.uint8 if bits <= 8 else np.uint16
    channels = []
    for plane, (sx, sy) in zip(frame.planes, ((1, 1), (step_x, step_y), (step_x, step_y))):
        samples = np.frombuffer(plane, dtype).reshape(plane.height, -1)
        crop = samples[: out_h * block // sy, : out_w * block // sx]
        channels.append(cv2.resize(crop, (out_w, out_h), interpolation=cv2.INTER_AREA).astype(np.float32))
    y, cb, cr = (c / (1 << (bits - 8)) for c in channels)
    if not (fmt.name.startswith("yuvj") or frame.color_range == 2):
        # Limited range (ITU-R BT.601): black at 16, white at 235, chroma 16..240.
        y, cb, cr = (y - 16) * 255 / 219, (cb - 128) * 255 / 224 + 128, (cr - 128) * 255 / 224 + 128
    ycrcb = np.clip(np.stack([y, cr, cb], axis=-1) + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(ycrcb, cv2.COLOR_YCrCb2RGB)


class SourceChanges:
    """The change into every source frame, and the small pictures around every spike.

    Feed it as ``iter_frames(..., on_source_frame=changes)``, then call :meth:`finish`. It then
    offers what :func:`diffbgm.video.refine.refine_cut` reads: ``times`` and ``scores`` (the change
    from frame ``j - 1`` to frame ``j``; 0 for the first) of every frame, and :meth:`returns`.
    """

    def __init__(self, max_side: int = 96):
        self._max_side = max_side
        self._reformatter = VideoReformatter()
        self._times: list[float] = []
        self._scores: list[float] = []
        self._previous: np.ndarray | None = None
        # Frames a spike not yet tested may still need: (index, time, small HSV picture).
        self._recent: deque[tuple[int, float, np.ndarray]] = deque()
        self._kept: dict[int, np.ndarray] = {}
        self._keep_until_s = -math.inf
        self._tested = 0
        self.times = np.zeros(0)
        self.scores = np.zeros(0)

    def __call__(self, time_s: float, frame: av.VideoFrame) -> None:
        # Kept as uint8 (a quarter of hsv_of's float32): only the frames around spikes stay.
        hsv = cv2.cvtColor(small_rgb(frame, self._max_side, self._reformatter), cv2.COLOR_RGB2HSV_FULL)
        hsv_float = hsv.astype(np.float32)
        if self._previous is not None and self._previous.shape != hsv.shape:
            self._previous = None  # the stream changed size mid-way: no comparison across it
        index = len(self._times)
        score = content_score(self._previous, hsv_float) if self._previous is not None else 0.0
        self._times.append(time_s)
        self._scores.append(score)
        self._previous = hsv_float
        self._recent.append((index, time_s, hsv))
        if time_s <= self._keep_until_s:
            self._kept[index] = hsv
        # is_spike(j) looks SPIKE_CONTEXT frames past j: test every frame that has them.
        while self._tested + SPIKE_CONTEXT < len(self._scores):
            self._test(self._tested)
        self._forget()

    def finish(self) -> SourceChanges:
        """Test the last frames (their context ends with the video) and freeze the arrays."""
        while self._tested < len(self._scores):
            self._test(self._tested)
        self._recent.clear()
        self.times = np.asarray(self._times, np.float64)
        self.scores = np.asarray(self._scores, np.float64)
        return self

    @property
    def kept_frames(self) -> int:
        """How many small pictures are held (those within :data:`FLASH_S` of a spike)."""
        return len(self._kept)

    def returns(self, first: int, last: int) -> bool:
        """Whether the picture after frame ``last`` is the one before frame ``first`` (a flash)."""
        before, after = self._kept.get(first - 1), self._kept.get(last + 1)
        if first < 1 or before is None or after is None:
            return False
        back = content_score(before.astype(np.float32), after.astype(np.float32))
        return back < max(MIN_CUT_SCORE, 0.4 * max(self.scores[first], self.scores[last + 1]))

    def _test(self, j: int) -> None:
        self._tested = j + 1
        # is_spike never passes a change below MIN_CUT_SCORE: most frames need no median.
        if self._scores[j] < MIN_CUT_SCORE:
            return
        start = max(0, j - SPIKE_CONTEXT)
        local = np.asarray(self._scores[start : j + SPIKE_CONTEXT + 1])
        if not is_spike(local, j - start):
            return
        # A flash test compares the frames up to FLASH_S on either side of the spike, and the one before.
        time_j = self._times[j]
        around = [(i, hsv) for i, t, hsv in self._recent if time_j - FLASH_S <= t <= time_j + FLASH_S]
        first = around[0][0] if around else j
        self._kept.update((i, hsv) for i, _, hsv in self._recent if first - 1 <= i and self._times[i] <= time_j + FLASH_S)
        self._keep_until_s = max(self._keep_until_s, time_j + FLASH_S)

    def _forget(self) -> None:
        """Drop the frames no untested spike can need (older than FLASH_S and one frame before it)."""
        if self._tested >= len(self._times):
            horizon = self._times[-1] - FLASH_S
        else:
            horizon = self._times[self._tested] - FLASH_S
        while len(self._recent) > 1 and self._recent[1][1] < horizon:
            self._recent.popleft()
