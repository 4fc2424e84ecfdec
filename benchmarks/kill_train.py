"""Kill a tiny training run at random moments, resume it each time, and check its checkpoints.

A training process of ``configs/tiny.yaml`` on synthetic windows (``tests/synthetic_training.py``)
is SIGKILLed ``--kills`` times and resumed after each kill: every other kill comes a random
0..``--max-delay`` s after the run started training again, the others a random 0..20 ms after a
checkpoint write began (when its temporary file appears), so that kills also land inside writes. After every kill the committed checkpoint is read back and its weights,
EMA and optimizer state are compared with those an uninterrupted run (recorded in this process) had at
the checkpoint's step: a checkpoint pairing files of different steps would differ. At the end the run
is finished two steps past its last checkpoint and compared with the uninterrupted run bit for bit.

Prints how many resumes succeeded, the steps lost per kill (steps trained past the checkpoint the run
resumed from) and the mismatched checkpoints found (must be 0).

Usage: ``python benchmarks/kill_train.py [--kills 20] [--checkpoint-every 1] [--max-delay 1.5] [--seed 0]``
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from synthetic_training import (  # noqa: E402
    RecordingTrainer,
    digest,
    make_trainer,
    tiny_run_config,
    trainer_digests,
)

from diffbgm.atomic import part_files  # noqa: E402
from diffbgm.training.checkpoint_state import (  # noqa: E402
    checkpoint_path,
    holds_run,
    optimizer_to_tensors,
    read_checkpoint,
)

WORKER = ROOT / "tests" / "synthetic_training.py"
ENDLESS = 1_000_000


def start_worker(out: Path, checkpoint_every: int, max_steps: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, str(WORKER), str(out), "--max-steps", str(max_steps),
               "--checkpoint-every", str(checkpoint_every)]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def last_logged_step(out: Path) -> int:
    """The last step the run logged (each step is logged and flushed before its checkpoint)."""
    try:
        with (out / "log.csv").open() as handle:
            rows = list(csv.DictReader(handle))
        return int(rows[-1]["step"]) if rows else 0
    except (OSError, KeyError, ValueError):
        return 0


def committed_digests(out: Path) -> tuple[int, dict[str, str]]:
    checkpoint = read_checkpoint(out)
    return checkpoint.step, {
        "model": digest(checkpoint.model),
        "ema": digest(checkpoint.ema),
        "optimizer": digest(optimizer_to_tensors(checkpoint.optimizer)[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--checkpoint-every", type=int, default=1)
    parser.add_argument("--max-delay", type=float, default=1.5, help="latest kill, seconds after training resumed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    chooser = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "run"
        resumes = restarts = failed = partial_left = partial_removed = 0
        lost, checked = [], []
        for kill in range(args.kills):
            start_step = read_checkpoint(out).step if holds_run(out) else 0
            # The killed run may have logged steps past its checkpoint: wait for the new run to pass them.
            progress = max(start_step, last_logged_step(out))
            leftovers = part_files(checkpoint_path(out)) if out.exists() else []
            worker = start_worker(out, args.checkpoint_every, ENDLESS)
            deadline = time.monotonic() + 300
            while last_logged_step(out) <= progress and worker.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            if worker.poll() is not None or last_logged_step(out) <= progress:
                failed += 1
                worker.kill()
                print(f"kill {kill}: the run did not continue from step {start_step}: "
                      f"{worker.communicate()[1].strip().splitlines()[-1:]}")
                break
            resumes += start_step > 0
            restarts += start_step == 0 and kill > 0
            partial_removed += sum(not path.exists() for path in leftovers)
            if kill % 2:
                before = set(part_files(checkpoint_path(out)))
                while not set(part_files(checkpoint_path(out))) - before and time.monotonic() < deadline:
                    time.sleep(0.001)
                time.sleep(chooser.uniform(0.0, 0.02))
            else:
                time.sleep(chooser.uniform(0.0, args.max_delay))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            reached = last_logged_step(out)
            partial_left += bool(part_files(checkpoint_path(out)))
            if holds_run(out):
                step, digests = committed_digests(out)
                checked.append((step, digests))
            else:
                step = 0
            lost.append(reached - step)
            print(f"kill {kill}: killed at step {reached}, checkpoint at step {step}", flush=True)
        final_step = (checked[-1][0] if checked else 0) + 2
        leftovers = part_files(checkpoint_path(out))
        finisher = start_worker(out, args.checkpoint_every, final_step)
        finished = finisher.wait(timeout=600) == 0
        partial_removed += sum(not path.exists() for path in leftovers)
        final = committed_digests(out) if finished else None

    reference = make_trainer(Path(tempfile.mkdtemp()), tiny_run_config(1), RecordingTrainer)
    reference.train(max_steps=final_step)
    mismatched = sum(digests != reference.digests[step] for step, digests in checked)
    identical = final is not None and final == (final_step, trainer_digests(reference))
    kills = len(lost)
    print(f"kills: {kills} (checkpoint every {args.checkpoint_every} step(s); half 0..{args.max_delay} s after "
          f"training started again, half 0..20 ms after a checkpoint write began)")
    print(f"resumes that succeeded: {resumes + finished} of {resumes + failed + 1} (after each kill and the final "
          f"one; and {restarts} restarts of a run killed before its first checkpoint)")
    print(f"steps lost per kill: max {max(lost, default=0)}, mean {sum(lost) / max(1, kills):.2f}")
    print(f"kills that left a partial checkpoint file (killed mid-write): {partial_left}; "
          f"partial files removed by the next start: {partial_removed}")
    print(f"mismatched checkpoints (weights, EMA, optimizer not all of the checkpoint's step): "
          f"{mismatched} of {len(checked)}")
    print(f"after the kills, step {final_step} bit-identical to an uninterrupted run: {'yes' if identical else 'NO'}")


if __name__ == "__main__":
    main()
