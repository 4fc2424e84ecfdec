"""Videos per minute of ``diffbgm generate DIR/ -o OUT/`` with local worker processes and on Ray (figures
printed, never asserted).

Writes ``--videos`` clips of ``--seconds`` each at 320x180 (a virtual camera over scikit-image's
photographs, a cut every 2-3 s, each clip its own photographs: ``tests/footage.py``), then times the
whole command, as a user waits for it (start-up, model loading in every worker, and for Ray starting a
local instance included), for each setting of ``--settings``: ``workersN`` is ``--workers N``,
``rayN`` is ``--ray auto --workers N``, a suffix ``tN`` adds ``--threads N``. Each setting scores into a fresh folder, without the analysis
cache, with the shipped model and ``generate``'s defaults.

Usage: ``python benchmarks/bench_batch.py [--videos 6] [--seconds 10] [--settings workers1,workers2,ray1,ray2]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
import footage  # noqa: E402

SIZE = (320, 180)
FPS = 25.0
SHOT_S = (2.0, 3.0, 2.5, 2.5)  # shot lengths of a clip, repeated to its length


def write_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` clips of ``seconds``, each over its own photographs, hard cuts between shots."""
    footage.SIZE = SIZE  # the module's frame size, read when a shot is rendered
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        frames, total = [], 0
        while total < round(seconds * FPS):
            frames.append(min(round(SHOT_S[len(frames) % len(SHOT_S)] * FPS), round(seconds * FPS) - total))
            total += frames[-1]
        photos = [footage.PHOTOS[(index + k) % len(footage.PHOTOS)] for k in range(len(frames))]
        clip = footage.Clip(footage.shot_sequence(photos, frames, seed=index),
                            tuple(footage.Cut() for _ in frames[1:]), fps=FPS)
        paths.append(folder / f"clip{index:02d}.mp4")
        footage.write_clip(paths[-1], clip)
    return paths


def setting_arguments(setting: str) -> list[str]:
    """``workers2`` -> ``--workers 2``; ``ray2`` -> ``--ray auto --workers 2``; a suffix ``tN`` adds
    ``--threads N`` (``workers1t1``)."""
    match = re.fullmatch(r"(workers|ray)(\d+)(?:t(\d+))?", setting)
    if match is None:
        raise SystemExit(f"unknown setting {setting!r}: workersN or rayN, optionally followed by tN")
    kind, workers, threads = match.groups()
    return [*(["--ray", "auto"] if kind == "ray" else []), "--workers", workers,
            *(["--threads", threads] if threads else [])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--settings", default="workers1,workers2,ray1,ray2")
    args = parser.parse_args()
    settings = args.settings.split(",")
    for setting in settings:
        setting_arguments(setting)

    cores = len(os.sched_getaffinity(0))
    print(f"{args.videos} videos of {args.seconds:g} s at {SIZE[0]}x{SIZE[1]}; {cores} cores; load average "
          f"{os.getloadavg()[0]:.1f} at the start")
    print(f"{'setting':<10}{'seconds':>9}{'videos/min':>12}{'scored':>8}{'load':>6}  (mean seconds per video in a "
          f"worker; load: the 1-min load average after the setting)")
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        folder = Path(folder)
        write_clips(folder / "videos", args.videos, args.seconds)
        for setting in settings:
            out = folder / setting
            command = [sys.executable, "-m", "diffbgm.cli", "generate", str(folder / "videos"), "-o", str(out),
                       "--no-cache", "-q", *setting_arguments(setting)]
            start = time.perf_counter()
            finished = subprocess.run(command, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - start
            rows = json.loads((out / "summary.json").read_text()) if (out / "summary.json").is_file() else []
            scored = [row for row in rows if row["status"] == "ok"]
            if finished.returncode != 0 or len(scored) != args.videos:
                print(f"{setting}: exit {finished.returncode}, {len(scored)} scored: "
                      f"{finished.stderr.strip()[-500:]}")
                continue
            mean = sum(row["seconds"] for row in scored) / len(scored)
            print(f"{setting:<10}{seconds:>9.1f}{60 * args.videos / seconds:>12.2f}{len(scored):>8}"
                  f"{os.getloadavg()[0]:>6.1f}  ({mean:.1f} s)", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
