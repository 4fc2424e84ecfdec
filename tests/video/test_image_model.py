"""EfficientNet-Lite0 frame encoder: the checkpoint loads strictly and classifies real pictures sensibly."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from diffbgm.video.image_model import (
    EMBEDDING_DIM,
    EfficientNetLite0,
    EfficientNetLite0Encoder,
    SameConv2d,
    default_weights_path,
    imagenet_labels,
    top_labels_from_logits,
)


@pytest.fixture(scope="module")
def encoder() -> EfficientNetLite0Encoder:
    return EfficientNetLite0Encoder(device="cpu", batch_size=8)


def _photo() -> np.ndarray:
    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    return np.asarray(Image.open(path).convert("RGB"))


def _checkerboard(square: int = 28) -> np.ndarray:
    yy, xx = np.mgrid[:224, :224]
    board = ((yy // square + xx // square) % 2 * 255).astype(np.uint8)
    return np.stack([board] * 3, axis=-1)


def _orange_disc() -> np.ndarray:
    yy, xx = np.mgrid[:224, :224]
    image = np.full((224, 224, 3), 235, dtype=np.uint8)
    image[(yy - 112) ** 2 + (xx - 112) ** 2 < 80 ** 2] = (255, 140, 0)
    return image


def test_labels_are_the_1000_imagenet_classes() -> None:
    labels = imagenet_labels()
    assert len(labels) == 1000 and len(set(labels)) == 1000
    assert labels[0] == "tench" and labels[652] == "military uniform" and labels[999] == "toilet tissue"


def test_real_photo_is_a_military_uniform(encoder: EfficientNetLite0Encoder) -> None:
    # Grace Hopper in US Navy uniform: the classic check that padding and normalisation match the
    # checkpoint (a wrong mean/std or symmetric padding lowers the confidence or changes the label).
    logits = encoder.classify(_photo())
    probs = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert encoder.top_labels(logits, 1) == [["military uniform"]]
    assert probs[0].max() > 0.3


def test_synthetic_pictures_get_plausible_deterministic_labels(encoder: EfficientNetLite0Encoder) -> None:
    frames = np.stack([_checkerboard(), _orange_disc()])
    first = encoder.top_labels(frames, 5)
    assert first == encoder.top_labels(frames, 5)
    assert {"crossword puzzle", "chessboard", "shoji", "window screen"} & set(first[0][:3])
    assert {"ping-pong ball", "orange", "balloon", "tennis ball", "golf ball"} & set(first[1][:3])


def test_embeddings_are_batch_invariant_and_discriminative(encoder: EfficientNetLite0Encoder) -> None:
    disc, board = _orange_disc(), _checkerboard()
    # 10 frames with batch_size 8 crosses a batch boundary.
    frames = np.stack([disc, board] * 5)
    embeddings = encoder.embed(frames)
    assert embeddings.shape == (10, EMBEDDING_DIM) and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings[0], embeddings[8], atol=1e-5)
    np.testing.assert_allclose(embeddings[1], encoder.embed(board)[0], atol=1e-4)
    cosine = embeddings[0] @ embeddings[1] / np.linalg.norm(embeddings[0]) / np.linalg.norm(embeddings[1])
    assert cosine < 0.9
    # Logits from stored embeddings equal logits from the frames.
    np.testing.assert_allclose(encoder.logits_from_embeddings(embeddings[:2]), encoder.classify(frames[:2]),
                               atol=1e-3)


def test_any_frame_size_is_resized(encoder: EfficientNetLite0Encoder) -> None:
    wide = np.asarray(Image.fromarray(_checkerboard()).resize((320, 180)))
    assert encoder.embed(wide).shape == (1, EMBEDDING_DIM)


def test_bad_input_is_rejected(encoder: EfficientNetLite0Encoder, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RGB frames"):
        encoder.embed(np.zeros((2, 8, 8), dtype=np.uint8))
    with pytest.raises(FileNotFoundError):
        EfficientNetLite0Encoder(weights=tmp_path / "missing.pth")


def test_top_labels_from_logits_orders_by_score() -> None:
    logits = np.zeros((1, 1000), dtype=np.float32)
    logits[0, 950], logits[0, 1] = 5.0, 3.0
    assert top_labels_from_logits(logits, 2) == [["orange", "goldfish"]]


@pytest.mark.parametrize("kernel", [1, 3, 5])
@pytest.mark.parametrize("size", [(7, 7), (8, 11)])
def test_stride_one_convolutions_pad_like_tensorflow_same(kernel: int, size: tuple[int, int]) -> None:
    # The stride-1 convolutions pad by themselves instead of through a padded copy: the same output.
    torch.manual_seed(0)
    conv = SameConv2d(4, 6, kernel)
    x = torch.randn(2, 4, *size)
    total = kernel - 1
    reference = F.conv2d(F.pad(x, (total // 2, total - total // 2) * 2), conv.weight, conv.bias)
    assert conv.fixed_padding
    torch.testing.assert_close(conv(x), reference)


def test_folded_batch_norms_give_the_trained_network(encoder: EfficientNetLite0Encoder) -> None:
    # The encoder runs with its batch norms folded into the convolutions; on a real photograph it must
    # give the embeddings and logits of the network as trained (eps 1e-3 and every norm included).
    state = torch.load(default_weights_path(), map_location="cpu", weights_only=True)
    trained = EfficientNetLite0()
    trained.load_state_dict(state, strict=True)
    trained.eval()
    assert not any(isinstance(module, torch.nn.BatchNorm2d) for module in encoder.model.modules())
    pixels = encoder._prepare(_photo())
    with torch.inference_mode():
        expected = trained(pixels)
        folded = encoder.model(pixels)
        torch.testing.assert_close(folded, expected, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(encoder.model._fc(folded), trained._fc(expected), atol=1e-3, rtol=1e-4)
