"""Optional encoders of the paper, loaded from local folders the user names (never downloaded).

Diff-BGM encodes frames with CLIP (512-d), captions shots with BLIP and embeds captions with BERT
(768-d). Their weights cannot ship in a PyPI wheel, so our defaults are EfficientNet-Lite0 and
MiniLM; a user who has these models on disk (a Hugging Face ``save_pretrained`` folder) can plug
them in here. Every load uses ``local_files_only=True``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


class EncoderLoadError(ValueError):
    """A model folder is missing or does not hold the expected kind of model."""


def _read_model_type(model_dir: str | Path, kind: str, accepted: Sequence[str]) -> tuple[Path, str]:
    path = Path(model_dir)
    if not path.is_dir():
        raise EncoderLoadError(f"{kind} model folder not found: {path}")
    config = path / "config.json"
    if not config.is_file():
        raise EncoderLoadError(f"{path} is not a {kind} model folder (no config.json)")
    try:
        model_type = json.loads(config.read_text("utf-8")).get("model_type", "")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError) as error:
        raise EncoderLoadError(f"{path} is not a {kind} model folder (unreadable config.json: {error})") from None
    if model_type not in accepted:
        raise EncoderLoadError(f"{path} holds a {model_type or 'unknown'!r} model, expected {kind} "
                               f"({' or '.join(accepted)})")
    return path, model_type


def _load(kind: str, path: Path, loader, **kwargs):
    try:
        return loader(str(path), local_files_only=True, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise EncoderLoadError(f"cannot load {kind} from {path}: {reason}") from None


def _as_images(frames: np.ndarray) -> list[np.ndarray]:
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 RGB frames (N,H,W,3), got {frames.dtype} {frames.shape}")
    return list(frames)


def _tensor_output(output, attribute: str) -> torch.Tensor:
    # transformers versions differ on whether get_*_features returns a tensor or a model output.
    return output if isinstance(output, torch.Tensor) else getattr(output, attribute)


class ClipImageEncoder:
    """CLIP image embeddings (the paper's visual stream), L2-normalised, float32 ``(N, projection_dim)``.

    Accepts a full CLIP folder (``model_type`` "clip") or a vision-only one ("clip_vision_model",
    saved from ``CLIPVisionModelWithProjection``); the folder must also hold the image processor.
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", batch_size: int = 32) -> None:
        from transformers import CLIPImageProcessor, CLIPModel, CLIPVisionModelWithProjection

        path, model_type = _read_model_type(model_dir, "CLIP", ("clip", "clip_vision_model"))
        model_class = CLIPModel if model_type == "clip" else CLIPVisionModelWithProjection
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.processor = _load("the CLIP image processor", path, CLIPImageProcessor.from_pretrained)
        self.model = _load("CLIP", path, model_class.from_pretrained).eval().to(self.device)
        self.is_full_clip = model_type == "clip"
        self.dim = int(self.model.config.projection_dim)

    @torch.inference_mode()
    def embed(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames ``(N,H,W,3)`` -> unit vectors ``(N, projection_dim)``."""
        images = _as_images(frames)
        outputs = [np.zeros((0, self.dim), dtype=np.float32)]
        for start in range(0, len(images), self.batch_size):
            pixels = self.processor(images=images[start:start + self.batch_size], return_tensors="pt")
            pixel_values = pixels["pixel_values"].to(self.device)
            if self.is_full_clip:
                features = _tensor_output(self.model.get_image_features(pixel_values=pixel_values),
                                          "pooler_output")
            else:
                features = self.model(pixel_values=pixel_values).image_embeds
            features = torch.nn.functional.normalize(features.float(), dim=-1)
            outputs.append(features.cpu().numpy())
        return np.concatenate(outputs).astype(np.float32)


class BlipCaptioner:
    """Captions frames with a local BLIP captioning model (``BlipForConditionalGeneration``)."""

    def __init__(self, model_dir: str | Path, device: str = "cpu", max_new_tokens: int = 30,
                 batch_size: int = 8) -> None:
        from transformers import BlipForConditionalGeneration, BlipProcessor

        path, _ = _read_model_type(model_dir, "BLIP", ("blip",))
        self.device = torch.device(device)
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.processor = _load("the BLIP processor", path, BlipProcessor.from_pretrained)
        self.model = _load("BLIP", path, BlipForConditionalGeneration.from_pretrained).eval().to(self.device)

    @torch.inference_mode()
    def caption(self, frames: np.ndarray) -> list[str]:
        """uint8 RGB frames ``(N,H,W,3)`` -> one caption per frame (greedy decoding, deterministic)."""
        images = _as_images(frames)
        captions: list[str] = []
        for start in range(0, len(images), self.batch_size):
            inputs = self.processor(images=images[start:start + self.batch_size], return_tensors="pt")
            tokens = self.model.generate(pixel_values=inputs["pixel_values"].to(self.device),
                                         max_new_tokens=self.max_new_tokens, do_sample=False)
            captions.extend(text.strip() for text in self.processor.batch_decode(tokens, skip_special_tokens=True))
        return captions


class BertTextEncoder:
    """Sentence vectors from a local BERT (the paper's caption encoder, 768-d for bert-base).

    Parameters
    ----------
    pooling:
        ``"mean"`` (mean of the last hidden states over real tokens) or ``"cls"`` (the [CLS] state).
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", pooling: str = "mean",
                 batch_size: int = 32, max_length: int = 128) -> None:
        from transformers import AutoTokenizer, BertModel

        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        path, _ = _read_model_type(model_dir, "BERT", ("bert",))
        self.device = torch.device(device)
        self.pooling = pooling
        self.batch_size = batch_size
        self.max_length = max_length
        self.tokenizer = _load("the BERT tokenizer", path, AutoTokenizer.from_pretrained)
        self.model = _load("BERT", path, BertModel.from_pretrained).eval().to(self.device)
        self.dim = int(self.model.config.hidden_size)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Sentences -> float32 ``(N, hidden_size)``."""
        outputs = [np.zeros((0, self.dim), dtype=np.float32)]
        texts = list(texts)
        for start in range(0, len(texts), self.batch_size):
            batch = self.tokenizer(texts[start:start + self.batch_size], padding=True, truncation=True,
                                   max_length=self.max_length, return_tensors="pt").to(self.device)
            hidden = self.model(**batch).last_hidden_state
            if self.pooling == "cls":
                pooled = hidden[:, 0]
            else:
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            outputs.append(pooled.float().cpu().numpy())
        return np.concatenate(outputs).astype(np.float32)
