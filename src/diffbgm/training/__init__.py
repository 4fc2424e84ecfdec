"""Training: run configs (:mod:`.config`), data sets (:mod:`.datasets`), the trainer (:mod:`.trainer`)
and a Diff-BGM run assembled from a config (:mod:`.run`)."""

from diffbgm.training.config import DataConfig, RunConfig, TrainingConfig, load_config
from diffbgm.training.trainer import Trainer, TrainResult

__all__ = ["DataConfig", "RunConfig", "TrainResult", "Trainer", "TrainingConfig", "load_config"]
