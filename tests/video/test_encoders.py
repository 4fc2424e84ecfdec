"""Pluggable CLIP / BLIP / BERT encoders, exercised on tiny randomly initialised models saved offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from diffbgm.video.encoders import BertTextEncoder, BlipCaptioner, ClipImageEncoder, EncoderLoadError  # noqa: E402

WORDS = ["a", "the", "dog", "cat", "on", "beach", "sea", "sunset", "man", "walking", "city", "night"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[DEC]"]
TINY_VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                   image_size=32, patch_size=8)
TINY_TEXT = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                 max_position_embeddings=64)


def _frames(n: int = 3) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, 48, 64, 3), dtype=np.uint8)


def _bert_tokenizer(folder: Path):
    folder.mkdir(parents=True, exist_ok=True)
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(SPECIAL + WORDS) + "\n")
    # Like Salesforce's BLIP tokenizer: [DEC] starts decoding and is a special token.
    return transformers.BertTokenizer(str(vocab), do_lower_case=True, bos_token="[DEC]")


def _clip_image_processor():
    return transformers.CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})


@pytest.fixture(scope="module")
def clip_vision_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip_vision")
    config = transformers.CLIPVisionConfig(projection_dim=16, **TINY_VISION)
    transformers.CLIPVisionModelWithProjection(config).save_pretrained(folder)
    _clip_image_processor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def clip_full_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clip_full")
    config = transformers.CLIPConfig(text_config=dict(vocab_size=len(SPECIAL + WORDS), **TINY_TEXT),
                                     vision_config=TINY_VISION, projection_dim=16)
    transformers.CLIPModel(config).save_pretrained(folder)
    _clip_image_processor().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def blip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("blip")
    tokenizer = _bert_tokenizer(folder / "vocab")
    vocab = tokenizer.get_vocab()
    text = dict(vocab_size=len(vocab), bos_token_id=vocab["[DEC]"], pad_token_id=vocab["[PAD]"],
                sep_token_id=vocab["[SEP]"], eos_token_id=vocab["[SEP]"], **TINY_TEXT)
    config = transformers.BlipConfig(text_config=text, vision_config=TINY_VISION, projection_dim=16)
    transformers.BlipForConditionalGeneration(config).save_pretrained(folder)
    image_processor = transformers.BlipImageProcessor(size={"height": 32, "width": 32})
    transformers.BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bert")
    tokenizer = _bert_tokenizer(folder / "vocab")
    transformers.BertModel(transformers.BertConfig(vocab_size=len(tokenizer), **TINY_TEXT)).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("which", ["clip_vision_dir", "clip_full_dir"])
def test_clip_embeds_frames_as_unit_vectors(which: str, request: pytest.FixtureRequest) -> None:
    encoder = ClipImageEncoder(request.getfixturevalue(which), device="cpu", batch_size=2)
    frames = _frames(3)
    embeddings = encoder.embed(frames)
    assert embeddings.shape == (3, 16) and embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    # Batching does not change a frame's embedding; different frames differ.
    np.testing.assert_allclose(encoder.embed(frames[2:]), embeddings[2:], atol=1e-5)
    assert not np.allclose(embeddings[0], embeddings[1])


def test_blip_captions_are_strings(blip_dir: Path) -> None:
    captioner = BlipCaptioner(blip_dir, device="cpu", max_new_tokens=5)
    captions = captioner.caption(_frames(2))
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)
    assert captions == captioner.caption(_frames(2))
    # Special tokens ([DEC], [SEP]) are stripped; what is left are vocabulary words.
    assert all(token in WORDS + ["[UNK]", "[MASK]"] for c in captions for token in c.split())


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_bert_embeds_sentences(bert_dir: Path, pooling: str) -> None:
    encoder = BertTextEncoder(bert_dir, device="cpu", pooling=pooling)
    texts = ["a dog on the beach", "the city at night", "a dog on the beach"]
    embeddings = encoder.embed(texts)
    assert embeddings.shape == (3, 32) and embeddings.dtype == np.float32
    np.testing.assert_allclose(embeddings[0], embeddings[2], atol=1e-5)
    assert not np.allclose(embeddings[0], embeddings[1])
    # Padding in a batch does not change the mean-pooled vector of the shorter sentence.
    np.testing.assert_allclose(encoder.embed(["the city at night"])[0], embeddings[1], atol=1e-4)
    assert encoder.embed([]).shape == (0, 32)


def test_missing_or_wrong_folders_give_one_line_errors(tmp_path: Path, bert_dir: Path) -> None:
    with pytest.raises(EncoderLoadError, match="not found"):
        ClipImageEncoder(tmp_path / "nope")
    with pytest.raises(EncoderLoadError, match="no config.json"):
        BlipCaptioner(tmp_path)
    with pytest.raises(EncoderLoadError, match="'bert' model, expected CLIP"):
        ClipImageEncoder(bert_dir)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EncoderLoadError) as error:
        BertTextEncoder(broken)
    assert "\n" not in str(error.value)
