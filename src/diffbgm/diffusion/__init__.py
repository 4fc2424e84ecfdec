"""Diffusion: noise schedule and loss (:mod:`.schedule`), samplers (:mod:`.sampling`)."""

from diffbgm.diffusion.sampling import SAMPLERS, guided_epsilon, make_scheduler, restrict_pitches, sample
from diffbgm.diffusion.schedule import GaussianDiffusion, model_to_roll, roll_to_model

__all__ = [
    "SAMPLERS",
    "GaussianDiffusion",
    "guided_epsilon",
    "make_scheduler",
    "restrict_pitches",
    "model_to_roll",
    "roll_to_model",
    "sample",
]
