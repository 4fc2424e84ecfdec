"""Speed and memory of ``analyze_video`` on a synthetic 1280x720 video (figures printed, never asserted).

    python3 benchmarks/bench_analyze.py            # a 60-s video
    python3 benchmarks/bench_analyze.py --long     # also a 10-min one: memory must stay flat

Targets: a 60-s video in <= 15 s wall time on 2 cores (>= 4x real time), peak memory <= 1.5 GB and
flat from 1 to 10 minutes. Each analysis runs in a fresh process so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "video"))
from synth import hue_colour, moving_square  # noqa: E402

SIZE = (1280, 720)
FPS = 30.0
SHOT_S = 6.0


def synthesise(path: Path, seconds: float) -> Path:
    """Shots of SHOT_S seconds: a textured square moving at varying speed over a changing background."""
    from synth import write_video

    shots = int(np.ceil(seconds / SHOT_S))
    per_shot = int(SHOT_S * FPS)

    def frames():
        for shot in range(shots):
            background = hue_colour(37 * shot % 360, 0.5, 0.4 + 0.1 * (shot % 4))
            square = hue_colour((37 * shot + 180) % 360)
            yield from moving_square(per_shot, SIZE, speed_px=2.0 + 6 * (shot % 3), background=background, square=square)

    total = int(seconds * FPS)
    return write_video(path, itertools.islice(frames(), total), fps=FPS)


def measure(path: Path, embed_fps: float, fps: float) -> dict:
    """Run in a fresh process: wall time, peak RSS, Python-heap peak."""
    from diffbgm.video.analysis import AnalysisConfig, analyze_video
    from diffbgm.video.image_model import EfficientNetLite0Encoder

    encoder = EfficientNetLite0Encoder(device="cpu")
    tracemalloc.start()
    start = time.perf_counter()
    analysis = analyze_video(path, AnalysisConfig(fps=fps, embed_fps=embed_fps), progress=False, encoder=encoder)
    wall = time.perf_counter() - start
    _, heap_peak = tracemalloc.get_traced_memory()
    return {
        "duration_s": analysis.duration_s,
        "frames": int(len(analysis.frame_times)),
        "shots": len(analysis.shots),
        "wall_s": round(wall, 2),
        "x_real_time": round(analysis.duration_s / wall, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "python_heap_peak_mb": round(heap_peak / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also a 10-minute video")
    parser.add_argument("--fps", type=float, default=8.0, help="analysis rate")
    parser.add_argument("--embed-fps", type=float, default=2.0, help="image-encoder rate")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.embed_fps, args.fps)))
        return
    lengths = [60.0] + ([600.0] if args.long else [])
    with tempfile.TemporaryDirectory() as folder:
        for seconds in lengths:
            start = time.perf_counter()
            path = synthesise(Path(folder) / f"bench_{int(seconds)}s.mp4", seconds)
            print(f"synthesised {seconds:.0f} s of {SIZE[0]}x{SIZE[1]} at {FPS:.0f} fps in {time.perf_counter() - start:.1f} s")
            command = [sys.executable, __file__, "--measure", str(path), "--fps", str(args.fps), "--embed-fps", str(args.embed_fps)]
            result = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            print(json.dumps(result))


if __name__ == "__main__":
    main()
