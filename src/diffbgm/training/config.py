"""Run configuration (model + training + data) read from YAML, checked before any work starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from diffbgm.models.config import ConfigError, ModelConfig, _check, from_dict, to_dict

DATASETS = ("pop909", "bgm909")


@dataclass(frozen=True)
class TrainingConfig:
    """Optimisation settings of the (model-agnostic) trainer."""

    batch_size: int = 16
    learning_rate: float = 5e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    warmup_steps: int = 100
    # "constant" after warm-up, or "cosine" decay to 10 % at max_steps.
    lr_schedule: str = "constant"
    max_steps: int = 100_000
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    log_every: int = 10
    checkpoint_every: int = 500
    # Also stop (saving a checkpoint) after this many minutes of training; 0 = no limit.
    max_minutes: float = 0.0
    seed: int = 0
    num_workers: int = 0
    # Mixed precision (bf16 autocast) is used on CUDA only.
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        _check(self.batch_size > 0, "training.batch_size must be positive")
        _check(self.learning_rate > 0, "training.learning_rate must be positive")
        _check(self.lr_schedule in ("constant", "cosine"), "training.lr_schedule must be constant or cosine")
        _check(self.max_steps > 0 and self.log_every > 0 and self.checkpoint_every > 0,
               "training step counts must be positive")
        _check(0.0 <= self.ema_decay < 1.0, "training.ema_decay must lie in [0, 1)")
        _check(self.warmup_steps >= 0 and self.num_workers >= 0 and self.max_minutes >= 0,
               "training.warmup_steps, num_workers and max_minutes must be >= 0")


@dataclass(frozen=True)
class DataConfig:
    """Where the training windows come from."""

    dataset: str = "pop909"
    # pop909: the folder `diffbgm data pop909` wrote; bgm909: the BGM909 feature folder.
    root: str = "runs/pop909"
    # For bgm909: the POP909 windows whose MIDI the BGM909 songs share.
    music_root: str = "runs/pop909"
    split: str = "train"
    # Random transposition by up to this many semitones either way (0 = off).
    pitch_shift: int = 0
    # Share of pop909 windows with one bar cut short to 2/4 or 3/4 (the metre changes the planner makes
    # at cuts; 0 = off).
    short_bar_prob: float = 0.0
    # Share of pop909 windows whose phrases look alike in their conditions, the phrase starts kept, as
    # alike shots separated by cuts do (training.datasets.alike_phrases; 0 = off).
    alike_prob: float = 0.0

    def __post_init__(self) -> None:
        _check(self.dataset in DATASETS, f"data.dataset must be one of {', '.join(DATASETS)}")
        _check(0 <= self.pitch_shift <= 12, "data.pitch_shift must lie in 0..12")
        _check(0.0 <= self.short_bar_prob <= 1.0, "data.short_bar_prob must lie in 0..1")
        _check(0.0 <= self.alike_prob <= 1.0, "data.alike_prob must lie in 0..1")


@dataclass(frozen=True)
class RunConfig:
    """A training run: the model to build, how to train it and on what."""

    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        return from_dict(cls, values, "config")


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """Read and check a YAML run config. ``overrides`` maps ``section.key`` to a value.

    Raises :class:`ConfigError` (one line) for a missing file, bad YAML, unknown keys or wrong types.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else "parse error"
        raise ConfigError(f"{path}: invalid YAML ({first})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        values.setdefault(section, {})
        if not isinstance(values[section], dict):
            raise ConfigError(f"{path}: section {section} must be a mapping")
        values[section][key] = value
    try:
        return RunConfig.from_dict(values)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None


def check_data(config: RunConfig) -> None:
    """Fail early (one line) when the configured data folders are missing."""
    roots = [config.data.root] + ([config.data.music_root] if config.data.dataset == "bgm909" else [])
    for root in roots:
        if not Path(root).is_dir():
            raise ConfigError(f"data folder not found: {root} (set data.root or pass --data)")
