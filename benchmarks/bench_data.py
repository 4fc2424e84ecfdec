"""Time the full POP909 window build (target: all 909 songs in under 10 minutes on the 2-core dev machine).

Usage: python3 benchmarks/bench_data.py [--data DIR] [--out DIR] [--workers 2]
DIR defaults to $DIFFBGM_DATA; the output goes to a fresh temporary folder unless --out is given.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from diffbgm.music.dataset import WindowStore, build_pop909


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("DIFFBGM_DATA", "../shared/data")))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "pop909"
        started = time.perf_counter()
        result = build_pop909(args.data / "POP909", args.data / "POP909-structure", args.data / "pop909_split.json",
                              out, workers=args.workers, progress=False)
        build_s = time.perf_counter() - started
        print(f"build: {build_s:.1f} s, {result.summary['songs']} songs, {result.summary['windows']} windows "
              f"({result.summary['songs_reused']} songs reused)")
        started = time.perf_counter()
        store = WindowStore(out, split="train")
        load_s = time.perf_counter() - started
        started = time.perf_counter()
        n = min(len(store), 5000)
        for i in range(n):
            store[(i * 7919) % len(store)]
        access_ms = (time.perf_counter() - started) / n * 1000
        print(f"WindowStore(train): load {load_s:.2f} s, {len(store)} windows, random access {access_ms:.3f} ms/window")


if __name__ == "__main__":
    main()
