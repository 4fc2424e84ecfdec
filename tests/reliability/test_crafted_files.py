"""Forged and damaged files: a crafted pickle never runs, an oversized config never allocates, a
truncated checkpoint is a one-line error, and export never overwrites its own input."""

from __future__ import annotations

import hashlib
import os
import pickle
import time
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from synthetic_training import CONFIGS, make_trainer

import diffbgm.models.checkpoint as checkpoint_module
from diffbgm.cli import cli
from diffbgm.models import CheckpointError, ModelConfig, load_checkpoint, save_weights
from diffbgm.models.config import UNetConfig
from diffbgm.training.checkpoint_state import ResumeError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class CreatesFile:
    """Unpickling this creates ``path``: the harmless stand-in for code a forged file would run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return open, (str(self.path), "w")


def crafted_pickle(marker: Path) -> bytes:
    data = pickle.dumps({"step": 4, "optimizer": CreatesFile(marker)})
    probe = marker.with_name("probe")
    pickle.loads(pickle.dumps(CreatesFile(probe)))  # the payload is live: loading it does create a file
    assert probe.is_file()
    probe.unlink()
    return data


def invoke(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    assert result.output.count("\n") == 1 and result.output.startswith("Error: "), result.output
    return result.output


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A tiny run trained for two steps."""
    out = tmp_path_factory.mktemp("run")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        make_trainer(out).train(max_steps=2)
    finally:
        torch.set_num_threads(threads)
    return out


def copy_run(run_folder: Path, to: Path) -> Path:
    to.mkdir()
    (to / "checkpoint.safetensors").write_bytes((run_folder / "checkpoint.safetensors").read_bytes())
    return to


def test_resume_never_unpickles_a_crafted_state_file(tmp_path, run_folder):
    run = copy_run(run_folder, tmp_path / "run")
    marker = tmp_path / "code-ran"
    (run / "checkpoint.state.pt").write_bytes(crafted_pickle(marker))
    data = tmp_path / "data"
    data.mkdir()
    result = invoke("train", CONFIGS / "tiny.yaml", "--out", run, "--data", data, "--resume")
    assert "pickled trainer state" in one_line_error(result) and "--init-from" in result.output
    with pytest.raises(ResumeError, match="never loaded"):
        make_trainer(run).train(resume=True)
    assert not marker.exists()


def test_a_pickle_in_place_of_the_checkpoint_is_refused_without_running(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    marker = tmp_path / "code-ran"
    (run / "checkpoint.safetensors").write_bytes(crafted_pickle(marker))
    data = tmp_path / "data"
    data.mkdir()
    assert "not a complete safetensors file" in one_line_error(
        invoke("train", CONFIGS / "tiny.yaml", "--out", run, "--data", data, "--resume"))
    assert "not a complete safetensors file" in one_line_error(invoke("info", run / "checkpoint.safetensors"))
    with pytest.raises(CheckpointError):
        load_checkpoint(run / "checkpoint.safetensors")
    assert not marker.exists()


def huge_config() -> ModelConfig:
    return ModelConfig(unet=UNetConfig(base_channels=16_384))


def test_info_refuses_a_small_file_whose_config_asks_for_a_huge_model_without_building_it(tmp_path, monkeypatch):
    path = tmp_path / "forged.safetensors"
    save_weights(path, huge_config(), {"model": {"unet.conv_in.weight": torch.zeros(8, 2, 3, 3)}})
    assert path.stat().st_size < 2000

    monkeypatch.setattr(checkpoint_module, "DiffBGMDenoiser", _refuse_real_build(checkpoint_module.DiffBGMDenoiser))
    started = time.perf_counter()
    assert "weights do not match the config" in one_line_error(invoke("info", path))
    with pytest.raises(CheckpointError, match="weights do not match the config"):
        load_checkpoint(path)
    assert time.perf_counter() - started < 10


def test_a_checkpoint_with_the_right_names_but_other_shapes_is_refused_before_building(tmp_path, monkeypatch):
    from diffbgm.models.checkpoint import model_shapes

    small = ModelConfig(unet=UNetConfig(base_channels=32, channel_mult=(1, 2), attention_levels=(1,)))
    big = ModelConfig(unet=UNetConfig(base_channels=64, channel_mult=(1, 2), attention_levels=(1,)))
    path = tmp_path / "mixed.safetensors"
    save_weights(path, big, {"model": {name: torch.zeros(shape) for name, shape in model_shapes(small).items()}})
    monkeypatch.setattr(checkpoint_module, "DiffBGMDenoiser", _refuse_real_build(checkpoint_module.DiffBGMDenoiser))
    with pytest.raises(CheckpointError, match=r"do not match the config \(model\.unet\.\S+: config \(256, 64\), file \(128, 32\)\)"):
        load_checkpoint(path)


def _refuse_real_build(real):
    def build(config):
        assert torch.get_default_device().type == "meta", "the model was built before its sizes were checked"
        return real(config)

    return build


def test_info_of_a_huge_yaml_config_counts_without_allocating(tmp_path):
    config = tmp_path / "huge.yaml"
    config.write_text("model:\n  unet:\n    base_channels: 16384\n")
    started = time.perf_counter()
    result = invoke("info", config)
    assert result.exit_code == 0, result.output
    with torch.device("meta"):
        expected = checkpoint_module.DiffBGMDenoiser(huge_config()).num_parameters()
    assert f"parameters: {expected:,}" in result.output and expected > 10**12
    assert time.perf_counter() - started < 10


@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_a_truncated_checkpoint_is_a_one_line_error_everywhere(tmp_path, run_folder, keep):
    run = copy_run(run_folder, tmp_path / "run")
    path = run / "checkpoint.safetensors"
    os.truncate(path, int(path.stat().st_size * keep))
    for args in (("info", path), ("export", path, tmp_path / "w.safetensors")):
        assert "not a complete safetensors file" in one_line_error(invoke(*args))
    with pytest.raises(CheckpointError, match="not a complete safetensors file"):
        load_checkpoint(path)
    with pytest.raises(ResumeError, match="cannot resume: not a complete safetensors file"):
        make_trainer(run).train(resume=True)
    assert not (tmp_path / "w.safetensors").exists()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_export_refuses_to_write_over_its_input(tmp_path, run_folder):
    run = copy_run(run_folder, tmp_path / "run")
    source = run / "checkpoint.safetensors"
    before = sha256(source)
    (tmp_path / "soft.safetensors").symlink_to(source)
    os.link(source, tmp_path / "hard.safetensors")
    for output in (source, tmp_path / "soft.safetensors", tmp_path / "hard.safetensors",
                   run / ".." / "run" / "checkpoint.safetensors"):
        assert "is the checkpoint itself" in one_line_error(invoke("export", source, output))
    assert sha256(source) == before
    make_trainer(run).train(resume=True, max_steps=3)  # still a training checkpoint
    result = invoke("export", source, tmp_path / "w.safetensors")
    assert result.exit_code == 0, result.output


def test_checkpoints_are_written_readable_by_all_under_the_usual_umask(tmp_path):
    previous = os.umask(0o022)
    try:
        make_trainer(tmp_path / "run").train(max_steps=1)
        assert invoke("export", tmp_path / "run" / "checkpoint.safetensors", tmp_path / "w.safetensors").exit_code == 0
    finally:
        os.umask(previous)
    for path in (tmp_path / "run" / "checkpoint.safetensors", tmp_path / "w.safetensors"):
        assert path.stat().st_mode & 0o777 == 0o644
