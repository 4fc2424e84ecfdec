"""Noise schedule, classifier-free guidance, samplers and inpainting."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from diffusers import DDPMScheduler

from diffbgm.conditions import ConditionBatch
from diffbgm.diffusion import GaussianDiffusion, guided_epsilon, model_to_roll, restrict_pitches, roll_to_model, sample
from diffbgm.diffusion.sampling import make_scheduler
from diffbgm.models import DiffBGMDenoiser
from diffbgm.music.key import Key
from diffbgm.training.config import load_config
from repo_paths import CONFIGS



pytestmark = pytest.mark.usefixtures("one_torch_thread")


def filled(network: DiffBGMDenoiser) -> DiffBGMDenoiser:
    """``network`` in eval mode, its zero-initialised output layers filled so that conditions matter."""
    with torch.no_grad():
        for parameter in network.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.1)
    return network.eval()


@pytest.fixture(scope="module")
def model() -> DiffBGMDenoiser:
    torch.manual_seed(0)
    return filled(DiffBGMDenoiser(load_config(CONFIGS / "tiny.yaml").model))


def conditions(batch: int = 2, seed: int = 0) -> ConditionBatch:
    generator = torch.Generator().manual_seed(seed)
    return ConditionBatch(
        torch.rand(batch, 32, 4, generator=generator),
        torch.randn(batch, 32, 384, generator=generator),
        torch.arange(32).div(8, rounding_mode="floor").expand(batch, 32).clone(),
    )


def test_scaling_round_trip():
    roll = (torch.rand(2, 2, 8, 8) > 0.5).float()
    assert torch.equal(roll_to_model(roll).unique(), torch.tensor([-1.0, 1.0]))
    assert torch.equal(model_to_roll(roll_to_model(roll)), roll)


def test_schedule_matches_diffusers_scaled_linear():
    diffusion = GaussianDiffusion(load_config(CONFIGS / "tiny.yaml").model.diffusion)
    reference = DDPMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    x0, noise = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    t = torch.tensor([0, 500, 999])
    assert torch.allclose(diffusion.add_noise(x0, noise, t), reference.add_noise(x0, noise, t), atol=1e-6)


def test_loss_is_epsilon_mse(model):
    diffusion = replace(load_config(CONFIGS / "tiny.yaml").model.diffusion, condition_dropout=0.0)
    wrapper = GaussianDiffusion(diffusion)
    x0 = roll_to_model((torch.rand(2, *model.sample_shape) > 0.9).float())
    loss = wrapper.loss(model, x0, conditions(), generator=torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    t = torch.randint(0, 1000, (2,), generator=generator)
    noise = torch.randn(x0.shape, generator=generator)
    with torch.no_grad():
        expected = ((model(wrapper.add_noise(x0, noise, t), t, conditions()) - noise) ** 2).mean()
    assert torch.allclose(loss, expected)


def test_guidance_one_is_conditional_zero_unconditional(model):
    x = torch.randn(2, *model.sample_shape)
    t = torch.tensor(600)
    c = conditions()
    with torch.no_grad():
        cond = model(x, t.expand(2), c)
        null = model(x, t.expand(2), c, torch.ones(2, dtype=torch.bool))
        assert torch.allclose(guided_epsilon(model, x, t, c, 1.0), cond)
        assert torch.allclose(guided_epsilon(model, x, t, c, 0.0), null)
        assert torch.allclose(guided_epsilon(model, x, t, c, 0.5), (cond + null) / 2, atol=1e-5)
        assert torch.allclose(guided_epsilon(model, x, t, c, 3.0), null + 3 * (cond - null), atol=1e-5)
    assert not torch.allclose(cond, null)


def test_groove_guidance_pushes_away_from_the_conditions_without_their_groove():
    torch.manual_seed(1)
    config = load_config(CONFIGS / "tiny.yaml").model
    grooved = filled(DiffBGMDenoiser(replace(config, unet=replace(config.unet, groove_input=True))))
    x = torch.randn(2, *grooved.sample_shape)
    t = torch.tensor(400)
    groove = torch.tensor([[1.0, -1.0, -1.0, -1.0] * 4, [0.0] * 16])
    c = conditions().with_groove(groove)
    with torch.no_grad():
        cond = grooved(x, t.expand(2), c)
        null = grooved(x, t.expand(2), c, torch.ones(2, dtype=torch.bool))
        bare = grooved(x, t.expand(2), c.with_groove(None))
        expected = null + 2.0 * (cond - null) + 1.5 * (cond - bare)
        assert torch.allclose(guided_epsilon(grooved, x, t, c, 2.0, groove_guidance=1.5), expected, atol=1e-5)
        # with s = 1 the groove term still runs; with no groove anywhere it is skipped
        assert torch.allclose(guided_epsilon(grooved, x, t, c, 1.0, groove_guidance=1.5),
                              cond + 1.5 * (cond - bare), atol=1e-5)
        assert torch.allclose(guided_epsilon(grooved, x, t, c.with_groove(None), 2.0, groove_guidance=1.5),
                              guided_epsilon(grooved, x, t, c.with_groove(None), 2.0), atol=1e-6)
    # the second window has no groove, so the extra term leaves it alone; the first one it moves
    assert torch.allclose(expected[1], (null + 2.0 * (cond - null))[1], atol=1e-5)
    assert not torch.allclose(expected[0], (null + 2.0 * (cond - null))[0], atol=1e-3)


@pytest.mark.parametrize("sampler", ["ddpm", "ddim", "dpmpp"])
def test_samplers_give_rolls_and_are_seeded(model, sampler):
    out = sample(model, conditions(), sampler=sampler, steps=4, guidance_scale=2.0,
                 generator=torch.Generator().manual_seed(5))
    again = sample(model, conditions(), sampler=sampler, steps=4, guidance_scale=2.0,
                   generator=torch.Generator().manual_seed(5))
    assert out.shape == (2, 2, 128, 128)
    assert torch.equal(out, again)
    assert 0.0 <= out.min() and out.max() <= 1.0
    # outside the modelled pitch columns (56..71) stays silent
    assert out[..., :56].abs().max() == 0 and out[..., 72:].abs().max() == 0


def test_inpainting_keeps_the_known_region(model):
    known = torch.zeros(2, 2, 128, 128)
    known[:, 0, ::4, 60] = 1.0
    known[:, 1, 1::4, 60] = 1.0
    mask = torch.zeros(1, 1, 128, 1)
    mask[:, :, :64] = 1.0
    out = sample(model, conditions(), steps=5, guidance_scale=1.5, generator=torch.Generator().manual_seed(1),
                 known=known, known_mask=mask)
    assert torch.equal(out[:, :, :64, 56:72], known[:, :, :64, 56:72])
    free = sample(model, conditions(), steps=5, guidance_scale=1.5, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(free[:, :, :64, 56:72], known[:, :, :64, 56:72])


def test_sampler_rejects_bad_arguments(model):
    with pytest.raises(ValueError, match="unknown sampler"):
        sample(model, conditions(), sampler="euler")
    with pytest.raises(ValueError, match="together"):
        sample(model, conditions(), known=torch.zeros(2, 2, 128, 128))


@pytest.mark.parametrize("sampler", ["dpmpp", "ddim", "ddpm"])
def test_sampling_starts_from_the_silent_roll_prior(model, sampler):
    # The schedule keeps sqrt(alpha_bar_T) = 0.068 of signal, so the first input must sit at
    # -0.068 (a silent roll, noised), not at 0: a zero-mean start made 10x too many notes.
    inputs = []
    handle = model.register_forward_pre_hook(lambda module, args: inputs.append(args[0].detach().clone()))
    try:
        sample(model, conditions(batch=4), sampler=sampler, steps=2, guidance_scale=1.0,
               generator=torch.Generator().manual_seed(0))
    finally:
        handle.remove()
    scheduler = make_scheduler(model.config.diffusion, sampler)
    scheduler.set_timesteps(2)
    first = scheduler.timesteps[0]
    expected = -float(scheduler.alphas_cumprod[first].sqrt())
    assert expected < -0.05
    assert inputs[0].mean().item() == pytest.approx(expected, abs=0.01)
    assert inputs[0].std().item() == pytest.approx(float((1 - scheduler.alphas_cumprod[first]).sqrt()), abs=0.05)


def test_restricted_pitches_stay_silent_and_the_known_region_is_kept(model):
    allowed = Key.parse("D major").pitch_mask()
    free = sample(model, conditions(), steps=5, guidance_scale=1.5, generator=torch.Generator().manual_seed(1))
    assert (free[..., ~allowed] > 0.5).any()  # the untouched model does write out-of-scale notes here
    known = torch.zeros(2, 2, 128, 128)
    known[:, 0, ::4, 62] = 1.0  # D, in the scale
    mask = torch.zeros(1, 1, 128, 1)
    mask[:, :, :64] = 1.0
    known, mask = restrict_pitches(torch.from_numpy(allowed), known, mask)
    out = sample(model, conditions(), steps=5, guidance_scale=1.5, generator=torch.Generator().manual_seed(1),
                 known=known, known_mask=mask)
    assert not out[..., ~allowed].any()
    assert torch.equal(out[:, :, :64], known[:, :, :64])
    assert (out[:, :, 64:, allowed] > 0.5).any()


def test_restrict_pitches_without_known_notes():
    allowed = torch.zeros(128, dtype=torch.bool)
    allowed[60:72] = True
    known, mask = restrict_pitches(allowed, batch=3)
    assert known.shape == mask.shape == (3, 2, 128, 128) and not known.any()
    assert mask[..., :60].eq(1).all() and mask[..., 72:].eq(1).all() and not mask[..., 60:72].any()
    per_window = torch.stack([allowed, allowed.roll(1)])
    _, mask = restrict_pitches(per_window)
    assert mask.shape == (2, 2, 128, 128)
    assert not mask[0, :, :, 60].any() and mask[1, :, :, 60].eq(1).all() and not mask[1, :, :, 72].any()
