"""The trainer's state as tensors + JSON: round trips, and one file per checkpoint holding no pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open
from synthetic_training import make_trainer, trainer_digests

from diffbgm.training.checkpoint_state import (
    STATE_KEY,
    ResumeError,
    capture_rng,
    optimizer_from_tensors,
    optimizer_to_tensors,
    read_checkpoint,
    restore_rng,
    rng_from_tensors,
    rng_to_tensors,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def adam_after_two_steps(seed: int) -> tuple[torch.nn.Linear, torch.optim.AdamW]:
    torch.manual_seed(seed)
    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW([{"params": [layer.weight], "weight_decay": 0.1},
                                   {"params": [layer.bias], "weight_decay": 0.0}], lr=1e-3, betas=(0.8, 0.95))
    for _ in range(2):
        layer(torch.randn(4, 3)).square().sum().backward()
        optimizer.step()
    return layer, optimizer


def test_optimizer_state_round_trips_through_tensors_and_json():
    layer, optimizer = adam_after_two_steps(0)
    state = optimizer.state_dict()
    tensors, rest = optimizer_to_tensors(state)
    assert set(tensors) == {f"{i}.{key}" for i in (0, 1) for key in ("step", "exp_avg", "exp_avg_sq")}
    # cloned, as read from a file: a state_dict shares the optimizer's live tensors
    back = optimizer_from_tensors({k: v.clone() for k, v in tensors.items()}, json.loads(json.dumps(rest)))
    assert back["state"].keys() == state["state"].keys()
    for index, values in state["state"].items():
        for key, value in values.items():
            assert torch.equal(back["state"][index][key], value)
    # loaded into another optimizer (other moments, same weights), the next step is the original's
    other_layer, other = adam_after_two_steps(1)
    other_layer.load_state_dict(layer.state_dict())
    other.load_state_dict(back)
    for module, opt in ((layer, optimizer), (other_layer, other)):
        opt.zero_grad()
        module(torch.ones(4, 3)).square().sum().backward()
        opt.step()
    assert torch.equal(layer.weight, other_layer.weight) and torch.equal(layer.bias, other_layer.bias)


def test_rng_state_round_trips_and_replays_the_same_numbers():
    np.random.seed(7)
    torch.manual_seed(7)
    np.random.normal()  # leaves a cached Gaussian in the numpy state
    tensors, rest = rng_to_tensors(capture_rng(torch.device("cpu")))
    expected = (torch.rand(3), np.random.rand(3), np.random.normal())
    restore_rng(rng_from_tensors(tensors, json.loads(json.dumps(rest))), torch.device("cpu"))
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1]) and np.random.normal() == expected[2]


def test_a_checkpoint_is_one_safetensors_file_with_the_whole_trainer_state(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.train(max_steps=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.safetensors", "log.csv", "loss.png"]
    with safe_open(str(tmp_path / "checkpoint.safetensors"), framework="pt") as handle:
        groups = {name.split(".", 1)[0] for name in handle.keys()}
        state = json.loads(handle.metadata()[STATE_KEY])
    assert groups == {"model", "ema", "optimizer", "rng"} and state["step"] == 2
    checkpoint = read_checkpoint(tmp_path)
    assert checkpoint.step == 2
    resumed = make_trainer(tmp_path)
    resumed.load_checkpoint()
    assert trainer_digests(resumed) == trainer_digests(trainer)


def test_a_checkpoint_whose_state_lists_other_tensors_is_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    make_trainer(tmp_path).train(max_steps=2)
    path = tmp_path / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata()
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("optimizer.0.")}
    save_file(tensors, str(path), metadata=metadata)
    with pytest.raises(ResumeError, match="optimizer tensors are not those its trainer state lists"):
        read_checkpoint(tmp_path)
