"""Sampling with classifier-free guidance and inpainting, through diffusers' schedulers.

``ddpm`` is the paper's 1000-step ancestral sampler; ``ddim`` and ``dpmpp`` (DPM-Solver++ 2M) reach
similar quality in tens of steps; the registry and the defaults are :mod:`.samplers`.
"""

from __future__ import annotations

import torch
import diffusers
from torch import nn

from diffbgm.conditions import ConditionBatch
from diffbgm.diffusion.schedule import model_to_roll, roll_to_model
from diffbgm.diffusion.samplers import (
    DEFAULT_GROOVE_GUIDANCE,
    DEFAULT_GUIDANCE,
    DEFAULT_SAMPLER,
    DEFAULT_STEPS,
    SAMPLERS,
)
from diffbgm.models.config import DiffusionConfig

def make_scheduler(config: DiffusionConfig, sampler: str):
    """A diffusers scheduler matching the training schedule (``sampler``: a key of ``SAMPLERS``)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}")
    class_name, options = SAMPLERS[sampler]
    return getattr(diffusers, class_name)(
        num_train_timesteps=config.num_train_timesteps,
        beta_start=config.beta_start,
        beta_end=config.beta_end,
        beta_schedule=config.beta_schedule,
        prediction_type="epsilon",
        **options,
    )


def guided_epsilon(
    model: nn.Module,
    x: torch.Tensor,
    t: torch.Tensor,
    conditions: ConditionBatch,
    guidance_scale: float,
    groove_guidance: float = 0.0,
) -> torch.Tensor:
    """Classifier-free guidance: ``eps_null + s * (eps_cond - eps_null) + g * (eps_cond - eps_no_groove)``.

    ``s = 1`` is the conditional prediction and ``s = 0`` the unconditional one (each computed alone);
    otherwise both run in one batch. ``g`` (``groove_guidance``) adds a second guidance direction, away
    from the same conditions without their groove, in the manner of compositional guidance (Liu et al.,
    ECCV 2022): the groove's marginal share of bars per sixteenth says little about whether the bars
    agree with each other, and pushing along it makes every bar keep the figure (GPS). It costs a
    third model evaluation, so it only runs when ``g != 0`` and some window has a groove.
    """
    batch = x.shape[0]
    timesteps = t.expand(batch) if t.ndim == 0 else t
    with_groove = groove_guidance != 0.0 and conditions.groove is not None and bool(conditions.groove.any())
    if not with_groove and guidance_scale in (0.0, 1.0):
        null_mask = torch.full((batch,), guidance_scale == 0.0, dtype=torch.bool, device=x.device)
        return model(x, timesteps, conditions, null_mask)
    rows = [conditions, conditions] + ([conditions.with_groove(None)] if with_groove else [])
    null_mask = torch.zeros(len(rows) * batch, dtype=torch.bool)
    null_mask[batch:2 * batch] = True
    eps = model(
        torch.cat([x] * len(rows)),
        torch.cat([timesteps] * len(rows)),
        ConditionBatch.cat(rows),
        null_mask.to(x.device),
    )
    eps_cond, eps_null, *eps_no_groove = eps.chunk(len(rows))
    guided = eps_null + guidance_scale * (eps_cond - eps_null)
    if with_groove:
        guided = guided + groove_guidance * (eps_cond - eps_no_groove[0])
    return guided


def restrict_pitches(
    allowed: torch.Tensor,
    known: torch.Tensor | None = None,
    known_mask: torch.Tensor | None = None,
    batch: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inpainting inputs for :func:`sample` that also hold every pitch not ``allowed`` silent.

    ``allowed`` is bool ``(128,)`` (e.g. :meth:`diffbgm.music.key.Key.pitch_mask`), or ``(B, 128)`` for
    one set of pitches per window. ``known`` and ``known_mask`` are what :func:`sample` takes, or
    ``None`` for windows with nothing known (``batch`` of them). The model then writes only allowed
    pitches, and fills them knowing the rest is silent, which keeps more notes than deleting the
    out-of-scale ones afterwards.
    """
    if (known is None) != (known_mask is None):
        raise ValueError("known and known_mask must be given together")
    if known is None:
        batch = allowed.shape[0] if allowed.ndim == 2 else batch
        known = torch.zeros(batch, 2, 128, 128, device=allowed.device)
        known_mask = torch.zeros(batch, 2, 128, 128, device=allowed.device)
    silent = ~allowed.to(known.device, torch.bool).reshape(*allowed.shape[:-1], 1, 1, allowed.shape[-1])
    known_mask = known_mask.expand(known.shape)
    return known.masked_fill(silent, 0.0), known_mask.masked_fill(silent, 1.0)


@torch.no_grad()
def sample(
    model: nn.Module,
    conditions: ConditionBatch,
    sampler: str = DEFAULT_SAMPLER,
    steps: int = DEFAULT_STEPS,
    guidance_scale: float = DEFAULT_GUIDANCE,
    groove_guidance: float = DEFAULT_GROOVE_GUIDANCE,
    generator: torch.Generator | None = None,
    known: torch.Tensor | None = None,
    known_mask: torch.Tensor | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Generate piano-roll probabilities ``(B, 2, 128, 128)`` in [0, 1].

    Parameters
    ----------
    model:
        A :class:`~diffbgm.models.denoiser.DiffBGMDenoiser` (in eval mode, on the conditions' device).
    conditions:
        One :class:`ConditionBatch` row per window to generate.
    sampler, steps:
        ``ddpm`` (the paper: ancestral, use ``steps=1000``), ``ddim`` or ``dpmpp`` (DPM-Solver++).
    guidance_scale:
        Classifier-free guidance scale ``s`` (1 = plain conditional, 0 = unconditional).
    groove_guidance:
        Extra guidance ``g`` towards the windows' grooves (see :func:`guided_epsilon`); 0 = none. A model
        without ``unet.groove_input`` is sampled without it.
    generator:
        Seeds the initial and per-step noise.
    known, known_mask:
        Inpainting: piano roll ``(B, 2, 128, 128)`` in {0, 1} and a same-shaped (or broadcastable)
        mask, 1 where ``known`` must be kept. At every step the known region is replaced by ``known``
        noised to the current level (RePaint's simple replacement), so a window continues the
        previous one.
    """
    if (known is None) != (known_mask is None):
        raise ValueError("known and known_mask must be given together")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    device = conditions.segments.device
    batch = len(conditions)
    dtype = next(model.parameters()).dtype
    if not model.config.unet.groove_input:
        groove_guidance = 0.0  # the model ignores the groove: the third evaluation would change nothing
    scheduler = make_scheduler(model.config.diffusion, sampler)
    scheduler.set_timesteps(steps, device=device)
    shape = (batch, *model.sample_shape)
    x = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
    # The paper's scaled-linear schedule keeps signal at t = T (sqrt(alpha_bar) = 0.068), and a piano
    # roll is ~98 % silence (mean -0.96 in model space), so pure N(0, 1) is a biased start that the
    # first x0 estimates amplify 15-fold: sampled windows came out with 10x too many notes. Start from
    # q(x_T | silent roll) instead, which the model was trained on (cf. Lin et al., WACV 2024, on
    # non-zero terminal SNR).
    silent = torch.full(shape, -1.0, device=device, dtype=torch.float32)
    x = scheduler.add_noise(silent, x * scheduler.init_noise_sigma, scheduler.timesteps[:1])
    known_x = mask = None
    if known is not None:
        known_x = model.crop(roll_to_model(known.to(device, torch.float32)))
        mask = model.crop(known_mask.to(device, torch.float32).expand(known.shape))

    def impose(x: torch.Tensor, timestep: torch.Tensor | None) -> torch.Tensor:
        if known_x is None:
            return x
        if timestep is None:
            level = known_x
        else:
            noise = torch.randn(shape, generator=generator, device=device, dtype=torch.float32)
            level = scheduler.add_noise(known_x, noise, timestep.reshape(1))
        return mask * level + (1.0 - mask) * x

    timesteps = scheduler.timesteps
    iterator = timesteps
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(timesteps, desc=f"sampling ({sampler})", leave=False)
    x = impose(x, timesteps[0])
    for index, t in enumerate(iterator):
        model_input = scheduler.scale_model_input(x, t)
        eps = guided_epsilon(model, model_input.to(dtype), t.to(device), conditions, guidance_scale,
                             groove_guidance)
        x = scheduler.step(eps.float(), t, x, generator=generator).prev_sample
        following = timesteps[index + 1] if index + 1 < len(timesteps) else None
        x = impose(x, following)
    return model.uncrop(model_to_roll(x), fill=0.0)
