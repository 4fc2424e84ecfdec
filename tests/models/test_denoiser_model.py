"""The denoiser: sizes, learning, save/load, feature selector and segment-aware attention."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from diffbgm.conditions import ConditionBatch
from diffbgm.models import DiffBGMDenoiser, ModelConfig, load_checkpoint, save_weights
from diffbgm.models.attention import SegmentAwareCrossAttention, SegmentMask
from diffbgm.models.unet import METRIC_CHANNELS, metric_position_channels
from diffbgm.music.grid import STEPS_PER_BAR, WINDOW_STEPS
from diffbgm.training.config import load_config
from repo_paths import CONFIGS



pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_config(**conditions) -> ModelConfig:
    config = load_config(CONFIGS / "tiny.yaml").model
    return replace(config, conditions=replace(config.conditions, **conditions))


def random_conditions(batch: int, config: ModelConfig, seed: int = 0) -> ConditionBatch:
    generator = torch.Generator().manual_seed(seed)
    beats = config.conditions.beats
    segments = torch.zeros(batch, beats, dtype=torch.long)
    segments[:, beats // 2 :] = 1
    return ConditionBatch(
        torch.rand(batch, beats, config.conditions.dynamic_dim, generator=generator),
        torch.randn(batch, beats, config.conditions.semantic_dim, generator=generator),
        segments,
    )


def randomised(model: DiffBGMDenoiser) -> DiffBGMDenoiser:
    """The model with its zero-initialised output layers filled, so every input matters."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.1)
    return model.eval()


def test_paper_config_has_about_41m_parameters():
    config = load_config(CONFIGS / "paper.yaml").model
    count = DiffBGMDenoiser(config).num_parameters()
    assert abs(count - 41e6) / 41e6 < 0.05


def test_cpu_config_fits_25mb_in_fp16():
    config = load_config(CONFIGS / "cpu.yaml").model
    assert DiffBGMDenoiser(config).num_parameters() * 2 < 25e6


def test_the_shipped_model_is_the_cpu_config():
    import json

    from diffbgm.models import read_metadata
    from diffbgm.pipeline import DEFAULT_WEIGHTS

    shipped = json.loads(read_metadata(DEFAULT_WEIGHTS)["model_config"])
    assert ModelConfig.from_dict(shipped) == load_config(CONFIGS / "cpu.yaml").model


def test_tiny_model_overfits_one_batch():
    torch.manual_seed(0)
    config = tiny_config()
    model = DiffBGMDenoiser(config)
    x = torch.randn(4, *model.sample_shape)
    target = torch.randn(4, *model.sample_shape) * 0.5
    timesteps = torch.tensor([0, 150, 400, 999])
    conditions = random_conditions(4, config)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(model(x, timesteps, conditions), target)
        losses.append(loss.item())
        if losses[-1] < losses[0] / 10:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert losses[-1] < losses[0] / 10, f"loss went {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps"


def test_save_then_load_gives_identical_outputs(tmp_path):
    config = tiny_config()
    model = randomised(DiffBGMDenoiser(config))
    save_weights(tmp_path / "w.safetensors", config, {"model": model.state_dict()})
    loaded, loaded_config = load_checkpoint(tmp_path / "w.safetensors", "cpu")
    assert loaded_config == config
    x = torch.randn(2, *model.sample_shape)
    conditions = random_conditions(2, config)
    t = torch.tensor([10, 700])
    with torch.no_grad():
        as_trained = model(x, t, conditions)
        # Loaded for inference in channels-last layout: the same numbers as that layout in memory,
        # and the trained layout's up to float rounding.
        assert torch.equal(model.to(memory_format=torch.channels_last)(x, t, conditions), loaded(x, t, conditions))
        torch.testing.assert_close(loaded(x, t, conditions), as_trained, atol=1e-5, rtol=1e-5)
    assert loaded.unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


def _output_change(model, conditions, changed, t):
    x = torch.randn(1, *model.sample_shape, generator=torch.Generator().manual_seed(3))
    timesteps = torch.tensor([t])
    with torch.no_grad():
        return (model(x, timesteps, conditions) - model(x, timesteps, changed)).abs().max().item()


def test_feature_selector_uses_semantic_when_noisy_and_dynamic_when_clean():
    config = tiny_config()
    model = randomised(DiffBGMDenoiser(config))
    conditions = random_conditions(1, config)
    new_semantic = ConditionBatch(conditions.dynamic, torch.randn_like(conditions.semantic), conditions.segments)
    new_dynamic = ConditionBatch(torch.rand_like(conditions.dynamic), conditions.semantic, conditions.segments)
    assert _output_change(model, conditions, new_semantic, 999) > 1e-4
    assert _output_change(model, conditions, new_semantic, 0) == 0.0
    assert _output_change(model, conditions, new_dynamic, 0) > 1e-4
    assert _output_change(model, conditions, new_dynamic, 999) == 0.0
    # the switch sits at tau
    assert _output_change(model, conditions, new_semantic, config.conditions.tau) == 0.0
    assert _output_change(model, conditions, new_semantic, config.conditions.tau + 1) > 1e-4


@pytest.mark.parametrize("variant", ["semantic_only", "dynamic_only", "concat"])
def test_selector_variants(variant):
    config = tiny_config(selector=variant)
    model = randomised(DiffBGMDenoiser(config))
    conditions = random_conditions(1, config)
    new_semantic = ConditionBatch(conditions.dynamic, torch.randn_like(conditions.semantic), conditions.segments)
    new_dynamic = ConditionBatch(torch.rand_like(conditions.dynamic), conditions.semantic, conditions.segments)
    for t in (0, 999):
        assert (_output_change(model, conditions, new_semantic, t) > 0) == (variant != "dynamic_only")
        assert (_output_change(model, conditions, new_dynamic, t) > 0) == (variant != "semantic_only")


def test_null_tokens_ignore_the_conditions():
    config = tiny_config()
    model = randomised(DiffBGMDenoiser(config))
    a, b = random_conditions(1, config, seed=1), random_conditions(1, config, seed=2)
    x = torch.randn(1, *model.sample_shape)
    t = torch.tensor([500])
    null = torch.tensor([True])
    with torch.no_grad():
        assert torch.equal(model(x, t, a, null), model(x, t, b, null))
        assert not torch.equal(model(x, t, a), model(x, t, b))


def test_segment_query_gets_no_gradient_from_other_segments():
    torch.manual_seed(0)
    height, width, beats, dim = 8, 4, 32, 16
    attention = SegmentAwareCrossAttention(dim, 24, num_heads=2)
    segments = torch.tensor([[0] * 12 + [1] * 10 + [2] * 10])
    mask = SegmentMask(segments, torch.arange(beats))
    queries = torch.randn(1, height * width, dim)
    context = torch.randn(1, beats, 24, requires_grad=True)
    out = attention(queries, context, mask, height, width)
    # Row 0 covers beats 0..3 (segment 0) and row 7 beats 28..31 (segment 2).
    out.view(1, height, width, dim)[:, 0].sum().backward()
    assert context.grad[0, 12:].abs().max() == 0
    assert context.grad[0, :12].abs().max() > 0
    context.grad = None
    out = attention(queries, context, mask, height, width)
    out.view(1, height, width, dim)[:, 7].sum().backward()
    assert context.grad[0, :22].abs().max() == 0
    assert context.grad[0, 22:].abs().max() > 0


def test_segment_mask_rows_spanning_two_segments_see_both():
    segments = torch.tensor([[0] * 6 + [1] * 26])
    mask = SegmentMask(segments, torch.arange(32)).for_shape(4, 2)  # a row = 8 beats
    assert mask.shape == (1, 1, 8, 32)
    assert mask[0, 0, 0].all()  # row 0: beats 0..7 span segments 0 and 1
    assert not mask[0, 0, 2, :6].any() and mask[0, 0, 2, 6:].all()


def test_segment_mask_never_leaves_a_query_without_keys():
    segments = torch.tensor([[0] * 16 + [1] * 16])
    # tokens only from the first half: queries in segment 1 would see nothing
    mask = SegmentMask(segments, torch.arange(16)).for_shape(32, 1)
    assert mask.any(dim=-1).all()
    attention = SegmentAwareCrossAttention(8, 8, num_heads=2)
    out = attention(torch.randn(1, 32, 8), torch.randn(1, 16, 8), SegmentMask(segments, torch.arange(16)), 32, 1)
    assert torch.isfinite(out).all()


def test_halves_mask_ignores_given_segments():
    mask = SegmentMask.halves(2, 32, torch.arange(32)).for_shape(32, 1)
    assert mask[:, 0, 0, :16].all() and not mask[:, 0, 0, 16:].any()
    assert mask[:, 0, 31, 16:].all() and not mask[:, 0, 31, :16].any()


def test_segment_mask_none_disables_masking():
    config = tiny_config(segment_mask="none")
    model = randomised(DiffBGMDenoiser(config))
    conditions = random_conditions(2, config)
    shuffled = ConditionBatch(conditions.dynamic, conditions.semantic, torch.randperm(32).expand(2, 32).clone())
    x = torch.randn(2, *model.sample_shape)
    with torch.no_grad():
        assert torch.equal(model(x, torch.tensor([0, 999]), conditions), model(x, torch.tensor([0, 999]), shuffled))


def test_metric_position_channels_tell_every_sixteenth_of_a_bar_apart():
    channels = metric_position_channels(WINDOW_STEPS)
    assert channels.shape == (METRIC_CHANNELS, WINDOW_STEPS)
    bar = channels[:, :STEPS_PER_BAR].T
    assert torch.cdist(bar, bar).add(torch.eye(STEPS_PER_BAR)).min() > 0.1
    assert torch.allclose(channels[:, STEPS_PER_BAR:], channels[:, :-STEPS_PER_BAR], atol=1e-5)
    assert torch.equal(channels[0, :4].round(), torch.tensor([1.0, -1.0, 1.0, -1.0]))


def _interior_outputs(metric_position: bool) -> torch.Tensor:
    """Outputs over interior steps 40..71 for a roll that is the same at every step."""
    config = tiny_config(segment_mask="none")
    config = replace(config, unet=replace(config.unet, metric_position=metric_position))
    torch.manual_seed(0)
    model = randomised(DiffBGMDenoiser(config))
    x = torch.full((1, *model.sample_shape), -1.0)
    x[..., 5] = 1.0
    with torch.no_grad():
        out = model(x, torch.tensor([300]), random_conditions(1, config))
    return out[0, :, 40:72]


def test_without_metric_position_the_unet_cannot_tell_steps_apart():
    out = _interior_outputs(metric_position=False)
    assert torch.allclose(out, out[:, :1].expand_as(out), atol=1e-5)


def test_metric_position_makes_the_output_depend_on_the_place_in_the_bar():
    out = _interior_outputs(metric_position=True)
    assert (out[:, 0] - out[:, 1]).abs().max() > 1e-3  # a downbeat against the sixteenth after it
    assert (out[:, 0] - out[:, 4]).abs().max() > 1e-3  # against the second beat
    assert torch.allclose(out[:, :STEPS_PER_BAR], out[:, STEPS_PER_BAR:], atol=1e-4)  # one bar later


def test_the_key_input_changes_the_prediction_and_the_null_condition_drops_it():
    from diffbgm.conditions import scale_vector
    from diffbgm.music.key import Key

    config = tiny_config()
    config = replace(config, unet=replace(config.unet, scale_input=True))
    model = randomised(DiffBGMDenoiser(config))
    conditions = random_conditions(1, config)
    c_major = conditions.with_scale(torch.from_numpy(scale_vector(Key.parse("C major").pitch_mask()))[None])
    f_sharp = conditions.with_scale(torch.from_numpy(scale_vector(Key.parse("F# major").pitch_mask()))[None])
    x = torch.randn(1, *model.sample_shape)
    t = torch.tensor([500])
    null = torch.tensor([True])
    with torch.no_grad():
        assert not torch.allclose(model(x, t, c_major), model(x, t, f_sharp))
        # No key is the all-zero key, and the null condition (for guidance) has none.
        assert torch.equal(model(x, t, conditions), model(x, t, conditions.with_scale(torch.zeros(1, 128))))
        assert torch.equal(model(x, t, c_major, null), model(x, t, f_sharp, null))
        assert torch.equal(model(x, t, c_major, null), model(x, t, conditions, null))


def test_the_groove_input_changes_the_prediction_and_the_null_condition_drops_it():
    config = tiny_config()
    config = replace(config, unet=replace(config.unet, groove_input=True))
    model = randomised(DiffBGMDenoiser(config))
    conditions = random_conditions(1, config)
    straight = torch.full((1, 16), -1.0)
    straight[0, ::4] = 1.0  # quarter notes
    offbeat = straight.roll(2, dims=1)  # the "ands"
    x = torch.randn(1, *model.sample_shape)
    t = torch.tensor([500])
    null = torch.tensor([True])
    with torch.no_grad():
        on_beats = model(x, t, conditions.with_groove(straight))
        assert not torch.allclose(on_beats, model(x, t, conditions.with_groove(offbeat)))
        assert torch.equal(model(x, t, conditions), model(x, t, conditions.with_groove(torch.zeros(1, 16))))
        assert torch.equal(model(x, t, conditions.with_groove(straight), null), model(x, t, conditions, null))


def test_metric_steps_of_4_4_change_nothing_and_a_short_bar_moves_the_bar_lines():
    config = tiny_config()
    config = replace(config, unet=replace(config.unet, metric_position=True, groove_input=True))
    torch.manual_seed(0)
    model = DiffBGMDenoiser(config).eval()
    for parameter in model.parameters():
        parameter.data.normal_(0.0, 0.05)  # the output layer starts at zero: give every input a say
    conditions = random_conditions(2, config).with_grooves([torch.rand(STEPS_PER_BAR).numpy() * 2 - 1] * 2)
    x = torch.randn(2, *model.sample_shape)
    t = torch.tensor([10, 500])
    default = (torch.arange(WINDOW_STEPS) % STEPS_PER_BAR).numpy()
    short = default.copy()
    short[24:] = (torch.arange(WINDOW_STEPS - 24) % STEPS_PER_BAR).numpy()  # bar 2 holds 2 beats
    with torch.no_grad():
        plain = model(x, t, conditions)
        explicit = model(x, t, conditions.with_metric_steps([default, default]))
        moved = model(x, t, conditions.with_metric_steps([short, short]))
    assert torch.equal(plain, explicit)
    assert not torch.allclose(plain[..., 24:, :], moved[..., 24:, :])
    channels = metric_position_channels(WINDOW_STEPS, metric_steps=torch.from_numpy(short)[None])
    assert torch.equal(channels[0, :, 24], metric_position_channels(WINDOW_STEPS)[:, 0])
