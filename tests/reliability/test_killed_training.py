"""A training process killed while it writes a checkpoint: the run restarts or resumes, loses at most
one checkpoint interval, never pairs weights and optimizer state of different steps, and ends
bit-identical to an uninterrupted run (the kill is injected at file-write points, see
``tests/synthetic_training.py``; ``benchmarks/kill_train.py`` kills at random moments)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import synthetic_training
import torch
from synthetic_training import KILLED_EXIT_CODE, make_trainer, tiny_run_config, trainer_digests

import diffbgm
from diffbgm.atomic import part_files
from diffbgm.training.checkpoint_state import checkpoint_path, holds_run, read_checkpoint

pytestmark = pytest.mark.usefixtures("one_torch_thread")

MAX_STEPS, EVERY = 6, 2


def killed_run(out: Path, write: int, truncate: bool) -> None:
    """Train in a subprocess that dies during its ``write``-th checkpoint write."""
    source = str(Path(diffbgm.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    command = [sys.executable, synthetic_training.__file__, str(out), "--max-steps", str(MAX_STEPS),
               "--checkpoint-every", str(EVERY), "--die-at-write", str(write)] + (["--truncate"] if truncate else [])
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == KILLED_EXIT_CODE, result.stderr[-2000:]
    assert len(part_files(checkpoint_path(out))) == 1  # the kill did hit the write


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, str]:
    # One thread, as the tests' own runs (module fixtures are set up before `one_torch_thread`), since
    # a float sum split over another number of threads rounds differently.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = make_trainer(tmp_path_factory.mktemp("straight"), tiny_run_config(EVERY))
        trainer.train(max_steps=MAX_STEPS)
        return trainer_digests(trainer)
    finally:
        torch.set_num_threads(threads)


def test_killed_while_writing_the_first_checkpoint_the_folder_starts_again(tmp_path, uninterrupted):
    out = tmp_path / "run"
    killed_run(out, write=1, truncate=True)
    assert not holds_run(out)  # so `diffbgm train` starts it again instead of refusing
    trainer = make_trainer(out, tiny_run_config(EVERY))
    trainer.train(max_steps=MAX_STEPS)
    assert trainer_digests(trainer) == uninterrupted
    assert part_files(checkpoint_path(out)) == []


@pytest.mark.parametrize("truncate", [True, False], ids=["mid-write", "before-rename"])
def test_killed_while_writing_a_later_checkpoint_the_run_resumes_from_the_previous_one(
        tmp_path, uninterrupted, truncate):
    out = tmp_path / "run"
    killed_run(out, write=2, truncate=truncate)
    assert read_checkpoint(out).step == EVERY  # one interval lost, the complete checkpoint kept
    trainer = make_trainer(out, tiny_run_config(EVERY))
    result = trainer.train(resume=True, max_steps=MAX_STEPS)
    assert result.step == MAX_STEPS and trainer_digests(trainer) == uninterrupted
    assert part_files(checkpoint_path(out)) == []
