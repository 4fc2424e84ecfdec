"""Sync of the music timing planner on random realistic edits (figures printed, never asserted).

    python3 benchmarks/bench_timing.py              # 200 edits, seed 0
    python3 benchmarks/bench_timing.py --edits 50 --seed 3

An edit: shots of uniform random length 1.5-8 s, cut at whole frames of 24 or 29.97 fps, a clip of
10-600 s (log-uniform); one shot in five gets an accent (a flash frame) at least 0.5 s from its cuts.
Printed: share of cuts within 40 ms of a downbeat and of a beat, share of accents on a beat, the
largest bar-to-bar tempo step per clip and tempo changes (> 2 %) per minute, and the median tempo of
each clip with the tempo range ``tempo_for_mood`` gives for "calm, sad, slow" and for "energetic,
happy, fast".
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from diffbgm.music.mood import mood_from_words
from diffbgm.music.planner import plan_timing
from diffbgm.music.timing import TimingConfig
from diffbgm.music.sync_metrics import cut_errors, tempo_changes_per_minute
from diffbgm.music.tempo import tempo_for_mood

TOLERANCE_S = 0.04


def random_edit(rng: np.random.Generator) -> tuple[float, np.ndarray, np.ndarray]:
    """Duration, cut times and accent times of one random edit (all on whole frames)."""
    fps = rng.choice([24.0, 30000.0 / 1001.0])
    target = float(np.exp(rng.uniform(np.log(10.0), np.log(600.0))))
    shots = [rng.uniform(1.5, 8.0)]
    while sum(shots) < target:
        shots.append(rng.uniform(1.5, 8.0))
    ends = np.cumsum(shots)
    starts = ends - np.array(shots)
    flashes = rng.random(len(shots)) < 0.2
    accents = starts[flashes] + 0.5 + rng.random(flashes.sum()) * (np.array(shots)[flashes] - 1.0)
    frames = np.round(ends * fps)
    return float(frames[-1] / fps), frames[:-1] / fps, np.round(accents * fps) / fps


def forced_misses(duration_s: float, cuts: np.ndarray, bpm_range=(70.0, 140.0), max_step: float = 0.1) -> int:
    """A lower bound on the cuts no 4/4 grid within ``bpm_range`` and ``max_step`` puts on downbeats.

    A shot shorter than the shortest bar cannot have both its cuts on downbeats, nor can two neighbouring
    shots that each fit exactly one bar (shorter than two shortest bars) and differ by more than
    ``max_step`` (time 0 is a downbeat; the last shot may end inside a bar, so it is left out).
    Counting disjoint such conflicts (greedily, by right end) gives the bound.
    """
    shortest, longest = 240.0 / bpm_range[1], 240.0 / bpm_range[0]
    shots = np.diff(np.concatenate([[0.0], cuts, [duration_s]]))[:-1]
    conflicts = [{i, i + 1} for i, length in enumerate(shots) if length < shortest]
    one_bar = (shots >= shortest) & (shots < 2 * shortest) & (shots < longest)
    for i in range(len(shots) - 1):
        if one_bar[i] and one_bar[i + 1] and max(shots[i] / shots[i + 1], shots[i + 1] / shots[i]) > 1 + max_step:
            conflicts.append({i, i + 1, i + 2})
    used: set[int] = set()
    count = 0
    for conflict in sorted((c & set(range(1, len(cuts) + 1)) for c in conflicts), key=lambda c: max(c, default=0)):
        if conflict and not conflict & used:
            used |= conflict
            count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    edits = [random_edit(rng) for _ in range(args.edits)]
    moods = {"calm, sad, slow": mood_from_words(["calm", "sad", "slow"]),
             "energetic, happy, fast": mood_from_words(["energetic", "happy", "fast"])}
    on_downbeat, on_beat, accent_on_beat, steps, changes, seconds = [], [], [], [], [], []
    for duration, cuts, accents in edits:
        start = time.perf_counter()
        plan = plan_timing(duration, cuts, accents_s=accents)
        seconds.append(time.perf_counter() - start)
        errors = cut_errors(cuts, plan.beats_s, plan.bar_beats)
        on_downbeat.append(errors.downbeat_s <= TOLERANCE_S + 1e-12)
        on_beat.append(errors.beat_s <= TOLERANCE_S + 1e-12)
        accent_on_beat.append(cut_errors(accents, plan.beats_s, plan.bar_beats).beat_s <= TOLERANCE_S + 1e-12)
        steps.append(plan.max_tempo_step)
        changes.append(tempo_changes_per_minute(plan.bar_bpm, duration))
    on_downbeat, on_beat, accent_on_beat = (np.concatenate(v) for v in (on_downbeat, on_beat, accent_on_beat))
    print(f"{args.edits} edits, {len(on_downbeat)} cuts, {len(accent_on_beat)} accents, "
          f"{sum(e[0] for e in edits) / 60:.0f} min; planning {np.mean(seconds):.2f} s per edit "
          f"(max {np.max(seconds):.2f})")
    print(f"cuts on a downbeat (<= {TOLERANCE_S * 1000:.0f} ms): {on_downbeat.mean():.1%}; "
          f"on a beat: {on_beat.mean():.1%}; accents on a beat: {accent_on_beat.mean():.1%}")
    forced = sum(forced_misses(duration, cuts) for duration, cuts, _ in edits)
    print(f"ceiling: no 70-140 BPM grid with steps <= 10 % puts more than {1 - forced / len(on_downbeat):.1%} "
          "of these cuts on downbeats")
    print("max tempo step per clip: " + ", ".join(f"p{q} {np.percentile(steps, q):.1%}" for q in (50, 90, 100)))
    print("tempo changes > 2 % per minute: "
          + ", ".join(f"p{q} {np.percentile(changes, q):.1f}" for q in (50, 90, 100)))
    medians = {}
    for words, mood in moods.items():
        preference = tempo_for_mood(mood.arousal, mood.valence)
        config = TimingConfig(bpm_range=preference.bpm_range, preferred_bpm=preference.preferred_bpm)
        medians[words] = np.array([plan_timing(duration, cuts, config).tempo_bpm for duration, cuts, _ in edits])
        print(f"{words!r}: range {preference.bpm_range[0]:.0f}-{preference.bpm_range[1]:.0f}, preferred "
              f"{preference.preferred_bpm:.0f}; median tempo per clip p10/p50/p90 "
              + "/".join(f"{np.percentile(medians[words], q):.0f}" for q in (10, 50, 90)))
    gap = medians["energetic, happy, fast"] - medians["calm, sad, slow"]
    print(f"energetic minus calm median tempo per clip: min {gap.min():.0f}, p10 {np.percentile(gap, 10):.0f}, "
          f"median {np.median(gap):.0f}; clips under 20 BPM apart: {np.sum(gap < 20)}")


if __name__ == "__main__":
    main()
