"""The change into every source frame, measured in the one decoding pass: small copies of real
photographs in every planar YUV layout, and cuts and flashes placed on their frame from it."""

from __future__ import annotations

import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from footage import Camera, Clip, Cut, Shot, photo, write_clip  # noqa: E402

from diffbgm.video.decode import iter_frames  # noqa: E402
from diffbgm.video.refine import FLASH_S, refine_cut  # noqa: E402
from diffbgm.video.source_changes import SourceChanges, small_rgb  # noqa: E402


@pytest.mark.parametrize(
    "layout, whole_blocks",
    # Planar YUV is averaged over whole blocks (the last partial ones dropped); others are resampled.
    [("yuv420p", True), ("yuvj420p", True), ("yuv422p", True), ("yuv444p", True), ("yuv420p10le", True),
     ("rgb24", False)],
)
def test_small_copy_is_the_pictures_area_average_in_every_layout(layout, whole_blocks):
    rgb = cv2.resize(photo("astronaut"), (640, 360), interpolation=cv2.INTER_AREA)
    small = small_rgb(av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=layout), 96)
    height, width = small.shape[:2]
    assert small.dtype == np.uint8 and small.shape[2] == 3 and 80 <= max(width, height) <= 110
    block = 360 // height if whole_blocks else None
    covered = rgb[: height * block, : width * block] if block else rgb
    reference = cv2.resize(covered, (width, height), interpolation=cv2.INTER_AREA)
    difference = np.abs(small.astype(np.int16) - reference)
    # Limited-range YUV expanded back to 0..255 and the chroma's block average: within a level or two.
    assert difference.mean() < 1.5 and np.percentile(difference, 99) <= 4


def _changes_of(path: Path) -> SourceChanges:
    changes = SourceChanges()
    for _ in iter_frames(path, fps=8.0, max_side=128, on_source_frame=changes):
        pass
    return changes.finish()


def test_a_cut_and_a_flash_are_placed_on_their_frame_and_only_their_pictures_are_kept(tmp_path):
    # A slow pan over one photograph with a one-frame white flash, then a cut to another at frame 57.
    pan = Camera((0.45, 0.5, 0.7), (0.55, 0.5, 0.65))
    clip = Clip((Shot("astronaut", 57, pan, flashes=((23, 1),)), Shot("rocket", 60, pan)), (Cut(),), fps=25)
    truth = write_clip(tmp_path / "clip.mp4", clip)
    changes = _changes_of(tmp_path / "clip.mp4")
    assert len(changes.times) == len(changes.scores) == 117
    assert np.allclose(changes.times, truth.frame_times_s, atol=1e-3)
    (cut_s,), (flash_s,) = truth.cuts_s, truth.accents_s
    # The analysis grid knows only the eighth of a second the change falls in, and the one before.
    cut = refine_cut(changes, np.floor(cut_s * 8) / 8 - 0.25, np.ceil(cut_s * 8) / 8)
    flash = refine_cut(changes, np.floor(flash_s * 8) / 8 - 0.25, np.ceil(flash_s * 8) / 8)
    assert cut is not None and cut.kind == "cut" and cut.time_s == pytest.approx(cut_s, abs=1e-3)
    assert flash is not None and flash.kind == "accent" and flash.time_s == pytest.approx(flash_s, abs=1e-3)
    # A stretch of the pan alone holds no cut, and the small pictures are kept around the spikes only.
    assert refine_cut(changes, 3.0, 3.5) is None
    assert 0 < changes.kept_frames <= 2 * 2 * (FLASH_S * 25 + 2)
