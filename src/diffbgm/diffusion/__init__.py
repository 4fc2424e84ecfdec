"""Diffusion: noise schedule and loss (:mod:`.schedule`), samplers (:mod:`.sampling`, :mod:`.samplers`).

Names load their submodule on first use (as diffusers' lazy modules do), so that reading the sampler
registry or a default does not import torch.
"""

import importlib

_EXPORTS = {
    **{name: "diffbgm.diffusion.samplers" for name in (
        "DEFAULT_GROOVE_GUIDANCE", "DEFAULT_GUIDANCE", "DEFAULT_SAMPLER", "DEFAULT_STEPS", "SAMPLERS")},
    **{name: "diffbgm.diffusion.sampling" for name in ("guided_epsilon", "make_scheduler", "restrict_pitches", "sample")},
    **{name: "diffbgm.diffusion.schedule" for name in ("GaussianDiffusion", "model_to_roll", "roll_to_model")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
