"""The end-to-end pipeline: options (:mod:`.options`), window filling (:mod:`.windows`), the ending
(:mod:`.ending`), the scoring pipeline (:mod:`.scoring`) and its files (:mod:`.outputs`).

Names load their submodule on first use, so that the command line reads the options' defaults
without importing torch.
"""

import importlib

_EXPORTS = {
    **{name: "diffbgm.pipeline.ending" for name in ("key_of_roll", "shape_ending")},
    **{name: "diffbgm.pipeline.options" for name in (
        "GROOVE_AUTO", "GROOVE_NONE", "KEY_AUTO", "KEY_NONE", "REGENERATE_OPTIONS", "GenerationError",
        "GenerationOptions", "default_of")},
    **{name: "diffbgm.pipeline.outputs" for name in ("check_outputs", "read_result", "side_paths", "write_outputs")},
    **{name: "diffbgm.pipeline.scoring" for name in ("DEFAULT_WEIGHTS", "GenerationResult", "ScoringPipeline")},
    **{name: "diffbgm.pipeline.windows" for name in ("Score", "window_seed")},
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
