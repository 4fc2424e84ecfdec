"""The training side of diffusion: noise schedule, forward noising and the epsilon-prediction loss.

As in LDM / Polyffusion (and so Diff-BGM): 1000 steps, scaled-linear betas from 0.00085 to 0.012,
the network predicts the added noise, loss is the MSE to it. The wrapper owns all of this; the network
only predicts (lucidrains / k-diffusion style).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diffbgm.conditions import ConditionBatch
from diffbgm.models.config import DiffusionConfig


def roll_to_model(roll: torch.Tensor) -> torch.Tensor:
    """Piano roll in {0, 1} (or probabilities) -> the model's data range [-1, 1]."""
    return roll * 2.0 - 1.0


def model_to_roll(x: torch.Tensor) -> torch.Tensor:
    """Model range [-1, 1] -> piano-roll probabilities in [0, 1]."""
    return ((x + 1.0) / 2.0).clamp(0.0, 1.0)


def make_betas(config: DiffusionConfig) -> torch.Tensor:
    """float64 betas of the configured schedule (``scaled_linear``: linear in sqrt(beta))."""
    n = config.num_train_timesteps
    if config.beta_schedule == "scaled_linear":
        return torch.linspace(config.beta_start**0.5, config.beta_end**0.5, n, dtype=torch.float64) ** 2
    return torch.linspace(config.beta_start, config.beta_end, n, dtype=torch.float64)


class GaussianDiffusion(nn.Module):
    """Noise schedule and loss for an epsilon-predicting denoiser.

    The denoiser is called as ``model(x_t, t, conditions, null_mask)`` on the cropped piano roll
    (``model.crop``).
    """

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__()
        self.config = config
        alphas_cumprod = torch.cumprod(1.0 - make_betas(config), dim=0)
        self.register_buffer("alphas_cumprod", alphas_cumprod.float(), persistent=False)

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """q(x_t | x_0): ``sqrt(a_t) x0 + sqrt(1 - a_t) noise``."""
        alpha = self.alphas_cumprod.to(x0.device)[timesteps].view(-1, *([1] * (x0.ndim - 1)))
        return alpha.sqrt() * x0 + (1.0 - alpha).sqrt() * noise

    def loss(
        self,
        model: nn.Module,
        x0: torch.Tensor,
        conditions: ConditionBatch,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Epsilon-prediction MSE for a batch of clean windows ``x0`` (already in [-1, 1], cropped).

        Draws timesteps uniformly, Gaussian noise, which windows lose their conditions
        (``condition_dropout``), which lose only their key (``key_dropout``) and which only their groove
        (``groove_dropout``) from ``generator`` (default: the global RNG of ``x0``'s device).
        """
        batch = x0.shape[0]
        device = x0.device
        timesteps = torch.randint(
            0, self.config.num_train_timesteps, (batch,), device=device, generator=generator
        )
        noise = torch.randn(x0.shape, device=device, generator=generator, dtype=x0.dtype)
        null_mask = torch.rand(batch, device=device, generator=generator) < self.config.condition_dropout
        if self.config.key_dropout > 0.0 and conditions.scale is not None:
            keep = torch.rand(batch, device=device, generator=generator) >= self.config.key_dropout
            conditions = conditions.with_scale(conditions.scale * keep[:, None].to(conditions.scale.dtype))
        if self.config.groove_dropout > 0.0 and conditions.groove is not None:
            keep = torch.rand(batch, device=device, generator=generator) >= self.config.groove_dropout
            conditions = conditions.with_groove(conditions.groove * keep[:, None].to(conditions.groove.dtype))
        prediction = model(self.add_noise(x0, noise, timesteps), timesteps, conditions, null_mask)
        return F.mse_loss(prediction.float(), noise.float())
