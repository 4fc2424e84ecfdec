"""Kill ``diffbgm generate`` at random moments and check that its outputs are never a mix of two runs.

A short video made of photographs is scored once (seed 0) into ``out/x.mp4`` and its side files.
Then, ``--kills`` times, ``generate`` is started again with the next seed (so that its music
differs) and SIGKILLed: a third of the kills at a random moment of the run (0..the last
uninterrupted run's length), a third a random 0..``--write-window`` s after the run's staging
folder appears (while it writes its files), a third 0..2 ms after the commit's journal appears
(between the renames that move the files into place). After each kill the folder must hold the
previous complete set (every file byte-identical to it) or the new complete set (every file present;
checked against the rerun below), or, when the kill fell between the renames of the commit, old and
new files beside the commit's journal, which the next run completes before anything else; never a
mix without a journal, never a partial file. Each kill is followed by a rerun
with the same seed: it must succeed, leave no staging folder or ``.part`` file, and give the same
files as the set the kill left when that set was the new one (``generate`` is deterministic for a
seed; the manifest's timings aside).

Prints the counts of each outcome.

Usage: ``python benchmarks/kill_generate.py [--kills 20] [--seed 0] [--write-window 0.5] [--model FILE]``
(default model: a tiny random one, since the model does not matter here and it keeps runs short).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "reliability")]
from bad_videos import photo_video  # noqa: E402
from scoring_helpers import tiny_checkpoint  # noqa: E402

from diffbgm.atomic import JOURNAL_NAME, PART_MARK, STAGING_MARK  # noqa: E402
from diffbgm.pipeline.outputs import side_paths  # noqa: E402


def command(video: Path, output: Path, model: Path, seed: int) -> list[str]:
    return [sys.executable, "-m", "diffbgm.cli", "generate", str(video), "-o", str(output), "--model", str(model),
            "--steps", "2", "--seed", str(seed), "--no-cache", "--quiet", "--threads", "1"]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))}


def output_set(output: Path) -> dict[str, str | None]:
    """Every output file's SHA-256 (``None``: missing); the manifest by its seed and files alone
    (its timings change from run to run)."""
    found: dict[str, str | None] = {}
    for key, path in side_paths(output).items():
        if not path.is_file():
            found[key] = None
        elif key == "json":
            manifest = json.loads(path.read_text())
            found[key] = f"seed {manifest['seed']}, files {sorted(manifest['files'].values())}"
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(folder: Path) -> tuple[list[str], list[str]]:
    """(staging folders, part files) in ``folder``."""
    staging = [p.name for p in folder.iterdir() if STAGING_MARK in p.name]
    parts = [p.name for p in folder.iterdir() if PART_MARK in p.name]
    return staging, parts


def appeared(folder: Path, journal: bool) -> bool:
    """Whether a staging folder (``journal``: a staging folder holding a commit journal) is in ``folder``."""
    staging = [folder / name for name in leftovers(folder)[0]]
    return any((path / JOURNAL_NAME).is_file() for path in staging) if journal else bool(staging)


def run(video: Path, output: Path, model: Path, seed: int) -> float:
    started = time.perf_counter()
    result = subprocess.run(command(video, output, model, seed), env=environment(), capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"generate (seed {seed}) failed: {result.stderr.strip()[-1000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-window", type=float, default=0.5, help="latest kill after the staging folder appears")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    chooser = random.Random(args.seed)
    counts = {"old set": 0, "new set": 0, "commit interrupted, finished by the next run": 0, "MIXED OR PARTIAL": 0}
    reruns_ok = staging_after_kill = after_finish = 0
    with tempfile.TemporaryDirectory(prefix="kill-generate-") as temp:
        folder = Path(temp)
        video = photo_video(folder / "clip.mp4", seconds=4.0)
        model = args.model or tiny_checkpoint(folder / "tiny.safetensors")
        out_dir = folder / "out"
        out_dir.mkdir()
        output = out_dir / "x.mp4"
        run_s = run(video, output, model, 0)  # the last uninterrupted run's length: the range of random kills
        old = output_set(output)
        print(f"an uninterrupted run takes {run_s:.1f} s", flush=True)
        for kill in range(1, args.kills + 1):
            process = subprocess.Popen(command(video, output, model, kill), env=environment(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if kill % 3 == 0:
                delay = chooser.uniform(0.0, run_s)
                time.sleep(delay)
                when = f"at {delay:.2f} s"
            else:
                # in the write: a random moment after the staging folder appears, or as the commit begins
                deadline = time.monotonic() + 10 * run_s
                while not appeared(out_dir, kill % 3 == 2) and process.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.0005)
                if kill % 3 == 1:
                    time.sleep(chooser.uniform(0.0, args.write_window))
                    when = "in the write"
                else:
                    time.sleep(chooser.uniform(0.0, 0.002))
                    when = "as the commit began"
            finished = process.poll() is not None
            after_finish += finished
            process.send_signal(signal.SIGKILL)
            process.wait()
            state = output_set(output)
            staging, parts = leftovers(out_dir)
            staging_after_kill += bool(staging)
            journal = any((out_dir / name / JOURNAL_NAME).is_file() for name in staging)
            rerun_s = run_s = run(video, output, model, kill)
            new = output_set(output)
            reruns_ok += not any(leftovers(out_dir)[0] + leftovers(out_dir)[1]) and None not in new.values()
            if state == old:
                outcome = "old set"
            elif state == new:
                outcome = "new set"
            elif journal and all(value in (None, old[key], new[key]) for key, value in state.items()):
                outcome = "commit interrupted, finished by the next run"
            else:
                outcome = "MIXED OR PARTIAL"
            counts[outcome] += 1
            print(f"kill {kill:2d} {when}{' (had finished)' if finished else ''}: {outcome}; "
                  f"{len(staging)} staging folder(s), {len(parts)} part file(s) left; rerun {rerun_s:.1f} s", flush=True)
            old = new
    print(f"kills: {args.kills} (a third at random moments of the run, a third 0..{args.write_window} s after "
          f"the write began, a third 0..2 ms after the commit's journal appeared)")
    print("after the kill the folder held: " + ", ".join(f"{name} {count}" for name, count in counts.items()))
    print(f"kills that came after the run had finished: {after_finish}; kills that left a staging folder: "
          f"{staging_after_kill}; reruns that completed with a whole set and "
          f"nothing left over: {reruns_ok} of {args.kills}")


if __name__ == "__main__":
    main()
