"""Score a long low-resolution video end to end and report memory, time per stage and A/V sync.

The video (320x180 by default) is made of camera moves over scikit-image's photographs, joined by
hard cuts every 2-9 s, and is streamed frame by frame into the H.264 encoder, never held in
memory. ``diffbgm generate`` then scores it in a child process; the child's peak resident memory
(``getrusage(RUSAGE_CHILDREN)``), each stage's seconds (from ``OUT.json``) and the difference
between the scored video's audio and picture lengths are printed. The issue's targets: peak memory
at most 2 GB and flat in the video's length, audio and picture lengths within one frame.

Usage: ``python benchmarks/bench_long.py [--minutes 60] [--fps 24] [--steps N] [--keep-audio]
[--folder DIR [--reuse-video]]``
(``--keep-audio`` also gives the video a sound track and mixes it in at -12 dB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from footage import PHOTOS, Camera, photo  # noqa: E402

AUDIO_RATE = 48000


def shot_frames(name: str, n: int, size: tuple[int, int], rng: np.random.Generator):
    """``n`` frames of a slow pan and zoom over the photograph ``name``, one at a time."""
    image = photo(name)
    start = (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9))
    end = (rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.5, 0.9))
    for x0, y0, w, h in Camera(start, end).windows(n, image.shape[:2], size[0] / size[1]):
        sx, sy = size[0] / w, size[1] / h
        matrix = np.array([[sx, 0, -x0 * sx], [0, sy, -y0 * sy]], np.float64)
        yield cv2.warpAffine(image, matrix, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)


def write_long_video(path: Path, minutes: float, fps: int, size: tuple[int, int], audio: bool,
                     seed: int = 0) -> int:
    """Write the video, one frame (and one audio frame) at a time; return its number of cuts."""
    rng = np.random.default_rng(seed)
    total = int(round(minutes * 60 * fps))
    cuts = -1
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"preset": "ultrafast", "crf": "28"}
        sound = container.add_stream("aac", rate=AUDIO_RATE, layout="stereo") if audio else None
        written = 0
        samples_written = 0
        while written < total:
            n = min(total - written, int(rng.integers(2 * fps, 9 * fps)))
            cuts += 1
            for picture in shot_frames(PHOTOS[int(rng.integers(len(PHOTOS)))], n, size, rng):
                frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
                frame.pts = written
                container.mux(video.encode(frame))
                written += 1
                if sound is not None:
                    # A quiet tone with a hum, enough audio to follow the picture.
                    while samples_written < written * AUDIO_RATE // fps:
                        t = (samples_written + np.arange(1024)) / AUDIO_RATE
                        wave = (0.1 * np.sin(2 * np.pi * 180 * t)).astype(np.float32)
                        chunk = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
                        chunk.sample_rate, chunk.pts = AUDIO_RATE, samples_written
                        chunk.time_base = Fraction(1, AUDIO_RATE)
                        container.mux(sound.encode(chunk))
                        samples_written += 1024
        container.mux(video.encode(None))
        if sound is not None:
            container.mux(sound.encode(None))
    return cuts


def stream_lengths_s(path: Path) -> tuple[float, float]:
    """The (picture, audio) lengths of a file from its packets: last end time minus first start."""
    ends: dict[str, list[float]] = {"video": [], "audio": []}
    with av.open(str(path)) as container:
        for packet in container.demux():
            if packet.pts is None or packet.stream.type not in ends:
                continue
            start = float(packet.pts * packet.time_base)
            ends[packet.stream.type].append(start)
            ends[packet.stream.type].append(start + float((packet.duration or 0) * packet.time_base))
    return tuple(max(ends[kind]) - min(ends[kind]) for kind in ("video", "audio"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--fps", type=int, default=24)
    parser.add_argument("--size", type=int, nargs=2, default=(320, 180), metavar=("W", "H"))
    parser.add_argument("--steps", type=int, default=None, help="diffusion steps  [default: generate's]")
    parser.add_argument("--keep-audio", action="store_true", help="give the video sound and mix it in at -12dB")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=None, help="where to write (default: a temporary folder)")
    parser.add_argument("--reuse-video", action="store_true", help="score the video an earlier run left in --folder")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-long-") as temp:
        folder = args.folder or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / f"long-{args.minutes:g}min.mp4"
        started = time.perf_counter()
        if args.reuse_video and video.is_file():
            print(f"scoring the earlier {video}", flush=True)
        else:
            cuts = write_long_video(video, args.minutes, args.fps, tuple(args.size), args.keep_audio)
            print(f"made {video.name}: {args.minutes:g} min, {args.size[0]}x{args.size[1]} at {args.fps} fps, "
                  f"{cuts} cuts, {video.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.0f} s",
                  flush=True)
        out = folder / "scored.mp4"
        command = [sys.executable, "-m", "diffbgm.cli", "generate", str(video), "-o", str(out), "--no-cache",
                   "--quiet", "--threads", str(args.threads), "--seed", "1"]
        if args.steps:
            command += ["--steps", str(args.steps)]
        if args.keep_audio:
            command += ["--keep-audio", "-12dB"]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}
        started = time.perf_counter()
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall_s = time.perf_counter() - started
        if result.returncode != 0:
            sys.exit(f"generate failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
        peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # Linux: KiB
        timings = json.loads(out.with_suffix(".json").read_text())["timings_s"]
        picture_s, audio_s = stream_lengths_s(out)
        frame_s = 1 / args.fps
        print(f"generate: {wall_s:.0f} s wall, peak RSS {peak_gb:.2f} GB (target <= 2 GB)")
        rest = wall_s - sum(timings.values())
        print("stages (s): " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items())
              + f", start-up and write {rest:.1f}")
        print(f"picture {picture_s:.3f} s, audio {audio_s:.3f} s: differ by {abs(picture_s - audio_s) * 1000:.1f} ms "
              f"({abs(picture_s - audio_s) / frame_s:.2f} frames; target <= 1)")


if __name__ == "__main__":
    main()
