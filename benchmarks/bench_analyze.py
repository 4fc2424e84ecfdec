"""Speed and memory of ``analyze_video`` beside its floor, decoding every frame (figures printed, never asserted).

    python3 benchmarks/bench_analyze.py                 # a 60-s 1280x720 30-fps video, 3 runs
    python3 benchmarks/bench_analyze.py --long          # also a 10-min 320x180 one: memory must stay flat
    python3 benchmarks/bench_analyze.py --video FILE    # any video instead of the synthesised one

The video is a virtual camera panning and zooming over scikit-image photographs, cut every 2.5 to
5.5 s, with a fade through black every fifth cut (``benchmarks/camera_footage.py``). Each run times,
back to back and each in a fresh process (so that its peak RSS is its own), the decoder alone (PyAV
decoding every frame with threaded decoding, as the analysis does, and converting none) and the
whole analysis with the shipped image encoder; the medians are printed as seconds, as times real
time and as the analysis' ratio to the decoder. Target (issue 19): a 60-s 720p 30-fps video
analysed at >= 10x real time (<= 6 s) on two cores, peak memory flat from 1 to 10 minutes.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from camera_footage import write_camera_video  # noqa: E402


def measure_decode(path: Path) -> dict:
    """Decode every frame of the video stream, threaded, converting none: the analysis' floor."""
    import av

    start = time.perf_counter()
    cpu = time.process_time()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = sum(1 for _ in container.decode(stream))
    return {"frames": frames, "wall_s": round(time.perf_counter() - start, 2),
            "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def measure_analysis(path: Path) -> dict:
    """The whole analysis with the shipped image encoder (loaded before the clock starts)."""
    from diffbgm.video.analysis import AnalysisConfig, analyze_video
    from diffbgm.video.image_model import EfficientNetLite0Encoder

    encoder = EfficientNetLite0Encoder(device="cpu")
    start = time.perf_counter()
    cpu = time.process_time()
    analysis = analyze_video(path, AnalysisConfig(), progress=False, encoder=encoder)
    return {"duration_s": round(analysis.duration_s, 2), "shots": len(analysis.shots),
            "wall_s": round(time.perf_counter() - start, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


def _fresh(kind: str, path: Path) -> dict:
    command = [sys.executable, __file__, f"--measure-{kind}", str(path)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def report(path: Path, repeats: int) -> None:
    runs = [(_fresh("decode", path), _fresh("analysis", path)) for _ in range(repeats)]
    for index, (decode, analysis) in enumerate(runs, 1):
        print(f"  run {index}: decode {decode['wall_s']:.2f} s, analysis {analysis['wall_s']:.2f} s "
              f"(ratio {analysis['wall_s'] / decode['wall_s']:.2f}), analysis CPU {analysis['cpu_s']:.2f} s")
    decode_s = statistics.median(d["wall_s"] for d, _ in runs)
    analysis_s = statistics.median(a["wall_s"] for _, a in runs)
    duration = runs[0][1]["duration_s"]
    print(f"median of {repeats}: decoder alone {decode_s:.2f} s ({duration / decode_s:.1f}x real time, "
          f"{runs[0][0]['frames']} frames); analysis {analysis_s:.2f} s ({duration / analysis_s:.1f}x real time, "
          f"{runs[0][1]['shots']} shots); analysis / decoder {analysis_s / decode_s:.2f}")
    print(f"peak memory: analysis {max(a['peak_rss_mb'] for _, a in runs):.0f} MB, "
          f"decoder {max(d['peak_rss_mb'] for d, _ in runs):.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, help="analyse this video instead of a synthesised one")
    parser.add_argument("--long", action="store_true", help="also a 10-minute 320x180 video")
    parser.add_argument("--repeats", type=int, default=3, help="decoder + analysis pairs timed (median printed)")
    parser.add_argument("--measure-decode", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--measure-analysis", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure_decode or args.measure_analysis:
        result = measure_decode(args.measure_decode) if args.measure_decode else measure_analysis(args.measure_analysis)
        print(json.dumps(result))
        return
    if args.video:
        print(f"{args.video}:")
        report(args.video, args.repeats)
        return
    lengths = [(60.0, (1280, 720), 30.0)] + ([(600.0, (320, 180), 30.0)] if args.long else [])
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as folder:
        for seconds, size, fps in lengths:
            start = time.perf_counter()
            path = write_camera_video(Path(folder) / f"bench_{int(seconds)}s.mp4", seconds, size, fps)
            print(f"{seconds:.0f} s of {size[0]}x{size[1]} at {fps:.0f} fps (synthesised in {time.perf_counter() - start:.0f} s):")
            report(path, args.repeats)


if __name__ == "__main__":
    main()
