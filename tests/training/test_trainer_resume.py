"""The trainer: exact resume, checkpoints with config, logs, DDP through gloo; config checking."""

from __future__ import annotations

import csv
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors import safe_open
from synthetic_training import make_trainer

from diffbgm.cli import cli
from diffbgm.models import ConfigError, DiffBGMDenoiser, load_checkpoint
from diffbgm.training.config import check_data, load_config
from diffbgm.training.distributed import setup_distributed, teardown_distributed
from diffbgm.training.trainer import EpochSampler, ResumeError
from repo_paths import CONFIGS



pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_sampler_order_depends_only_on_position():
    full = EpochSampler(10, seed=3)
    items = [item for item, _ in zip(full, range(25))]
    resumed = EpochSampler(10, seed=3, start=13)
    assert [item for item, _ in zip(resumed, range(12))] == items[13:]
    assert sorted(i for i, _ in items[:10]) == list(range(10))


def test_resume_equals_uninterrupted(tmp_path):
    straight = make_trainer(tmp_path / "straight")
    straight.train(max_steps=5)
    first = make_trainer(tmp_path / "split")
    first.train(max_steps=2)
    torch.manual_seed(1234)  # whatever happened in between must not matter
    second = make_trainer(tmp_path / "split")
    result = second.train(resume=True, max_steps=5)
    assert result.step == 5
    for a, b in zip(straight.model.state_dict().values(), second.model.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(straight.ema.state_dict().values(), second.ema.state_dict().values()):
        assert torch.equal(a, b)
    with (tmp_path / "split" / "log.csv").open() as handle:
        assert [int(row["step"]) for row in csv.DictReader(handle)] == [1, 2, 3, 4, 5]
    assert (tmp_path / "split" / "loss.png").stat().st_size > 0


def test_checkpoint_carries_config_and_loads(tmp_path):
    trainer = make_trainer(tmp_path)
    trainer.train(max_steps=2)
    with safe_open(str(tmp_path / "checkpoint.safetensors"), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["step"] == "2" and "run_config" in metadata
    model, config = load_checkpoint(tmp_path / "checkpoint.safetensors", "cpu")
    assert config == load_config(CONFIGS / "tiny.yaml").model
    for name, value in trainer.ema.state_dict().items():
        assert torch.equal(model.state_dict()[name], value)


def test_resume_refuses_another_model(tmp_path):
    make_trainer(tmp_path).train(max_steps=1)
    config = load_config(CONFIGS / "tiny.yaml")
    other = replace(config, model=replace(config.model, unet=replace(config.model.unet, base_channels=4)))
    with pytest.raises(ResumeError, match="different configuration"):
        make_trainer(tmp_path, other).train(resume=True)
    with pytest.raises(ResumeError, match="nothing to resume"):
        make_trainer(tmp_path / "empty").train(resume=True)


def test_ddp_single_process_gloo(tmp_path, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for name, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0",
                        "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}.items():
        monkeypatch.setenv(name, value)
    device = setup_distributed("cpu")
    try:
        trainer = make_trainer(tmp_path)
        assert trainer.distributed and isinstance(trainer.wrapped, torch.nn.parallel.DistributedDataParallel)
        result = trainer.train(max_steps=2)
    finally:
        teardown_distributed()
    assert device.type == "cpu" and result.step == 2
    assert (tmp_path / "checkpoint.safetensors").is_file()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_config_rejects_unknown_keys_and_wrong_types(tmp_path):
    with pytest.raises(ConfigError, match="unknown key.*base_chanels"):
        load_config(write(tmp_path / "a.yaml", "model:\n  unet:\n    base_chanels: 8\n"))
    with pytest.raises(ConfigError, match="model.unet.base_channels: expected an integer"):
        load_config(write(tmp_path / "b.yaml", "model:\n  unet:\n    base_channels: eight\n"))
    with pytest.raises(ConfigError, match="selector must be one of"):
        load_config(write(tmp_path / "c.yaml", "model:\n  conditions:\n    selector: both\n"))
    with pytest.raises(ConfigError, match="training.learning_rate: expected a number"):
        load_config(write(tmp_path / "d.yaml", "training:\n  learning_rate: [1]\n"))
    with pytest.raises(ConfigError, match="data folder not found"):
        check_data(load_config(write(tmp_path / "e.yaml", f"data:\n  root: {tmp_path / 'missing'}\n")))


def test_cli_train_reports_bad_config_in_one_line(tmp_path):
    bad = write(tmp_path / "bad.yaml", "training:\n  batch_size: -1\n")
    result = CliRunner().invoke(cli, ["train", str(bad), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {bad}: training.batch_size must be positive"
    result = CliRunner().invoke(cli, ["train", str(CONFIGS / "tiny.yaml"), "--out", str(tmp_path / "run"),
                                      "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "data folder not found" in result.output
    assert not (tmp_path / "run").exists()


def test_cli_info_prints_parameter_count():
    result = CliRunner().invoke(cli, ["info", str(CONFIGS / "paper.yaml")])
    assert result.exit_code == 0
    count = DiffBGMDenoiser(load_config(CONFIGS / "paper.yaml").model).num_parameters()
    assert f"parameters: {count:,}" in result.output
