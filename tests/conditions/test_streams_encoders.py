"""ConditionBatch and the condition-stream encoders (null tokens, condition dropout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diffbgm.conditions import ConditionBatch
from diffbgm.models.streams import ConditionStreams
from diffbgm.diffusion import GaussianDiffusion
from diffbgm.models import ConditionConfig, DiffusionConfig


def batch(n: int = 3) -> ConditionBatch:
    return ConditionBatch(torch.rand(n, 32, 4), torch.randn(n, 32, 384), torch.zeros(n, 32, dtype=torch.long))


def test_condition_batch_checks_shapes_and_moves():
    with pytest.raises(ValueError, match="semantic must be"):
        ConditionBatch(torch.rand(2, 32, 4), torch.randn(2, 31, 384), torch.zeros(2, 32, dtype=torch.long))
    conditions = batch()
    moved = conditions.to("cpu")
    assert torch.equal(moved.dynamic, conditions.dynamic) and len(moved) == 3
    assert len(conditions[1]) == 1 and torch.equal(conditions[1].semantic[0], conditions.semantic[1])
    assert len(ConditionBatch.cat([conditions, conditions[0]])) == 4


def test_null_tokens_replace_only_the_dropped_windows():
    streams = ConditionStreams(ConditionConfig(width=16))
    conditions = batch()
    t = torch.tensor([999, 999, 999])
    with torch.no_grad():
        plain, key_beats = streams(conditions, t)
        dropped, _ = streams(conditions, t, torch.tensor([False, True, False]))
    assert key_beats.tolist() == list(range(32))
    assert torch.equal(dropped[0], plain[0]) and torch.equal(dropped[2], plain[2])
    assert torch.equal(dropped[1], streams.semantic.null_tokens)


def test_concat_keeps_both_streams_with_their_beats():
    streams = ConditionStreams(ConditionConfig(width=16, selector="concat"))
    tokens, key_beats = streams(batch(), torch.tensor([0, 500, 999]))
    assert tokens.shape == (3, 64, 16)
    assert key_beats.tolist() == list(range(32)) * 2


class NullRecorder(torch.nn.Module):
    """Records which windows the loss asked to run unconditionally."""

    def __init__(self) -> None:
        super().__init__()
        self.masks = []

    def forward(self, x, t, conditions, null_mask):
        self.masks.append(null_mask)
        return torch.zeros_like(x)


@pytest.mark.parametrize("p", [0.0, 0.15, 0.5])
def test_loss_drops_conditions_at_the_configured_rate(p):
    diffusion = GaussianDiffusion(DiffusionConfig(condition_dropout=p))
    recorder = NullRecorder()
    conditions = ConditionBatch(torch.rand(4000, 1, 4), torch.rand(4000, 1, 2), torch.zeros(4000, 1, dtype=torch.long))
    diffusion.loss(recorder, torch.zeros(4000, 1, 1, 1), conditions, generator=torch.Generator().manual_seed(0))
    assert abs(recorder.masks[0].float().mean().item() - p) < 0.03


def test_scale_vector_marks_the_keys_scale_and_no_key_is_zero():
    from diffbgm.conditions import scale_vector
    from diffbgm.music.key import Key

    d_major = scale_vector(Key.parse("D major").pitch_mask())
    # D E F# G A B C# are in, the other five pitch classes out, in every octave.
    assert [int(v) for v in d_major[60:72]] == [-1, 1, 1, -1, 1, -1, 1, 1, -1, 1, -1, 1]
    assert (d_major[:12] == d_major[60:72]).all() and d_major.dtype == "float32"
    assert not scale_vector(None).any() and scale_vector(None).shape == (128,)


def test_condition_batch_carries_a_key_through_moves_selection_and_cat():
    with pytest.raises(ValueError, match="scale must be"):
        ConditionBatch(torch.rand(2, 32, 4), torch.randn(2, 32, 384), torch.zeros(2, 32, dtype=torch.long),
                       torch.ones(2, 12))
    keyed = batch(2).with_scale(torch.ones(2, 128))
    assert torch.equal(keyed.to("cpu").scale, keyed.scale) and keyed[1].scale.shape == (1, 128)
    # Windows without a key get zeros next to windows with one; with no key anywhere it stays None.
    mixed = ConditionBatch.cat([keyed, batch(1)])
    assert mixed.scale[:2].eq(1).all() and not mixed.scale[2].any()
    assert ConditionBatch.cat([batch(1), batch(1)]).scale is None
    assert not batch(2).scales().any() and batch(2).scales().shape == (2, 128)


class ConditionRecorder(torch.nn.Module):
    """Records the conditions the loss passed."""

    def __init__(self) -> None:
        super().__init__()
        self.conditions = []

    def forward(self, x, t, conditions, null_mask):
        self.conditions.append(conditions)
        return torch.zeros_like(x)


@pytest.mark.parametrize("p", [0.0, 0.2])
def test_loss_drops_the_key_alone_at_the_configured_rate(p):
    diffusion = GaussianDiffusion(DiffusionConfig(key_dropout=p))
    recorder = ConditionRecorder()
    n = 4000
    conditions = ConditionBatch(torch.rand(n, 1, 4), torch.rand(n, 1, 2), torch.zeros(n, 1, dtype=torch.long),
                                torch.ones(n, 128))
    diffusion.loss(recorder, torch.zeros(n, 1, 1, 1), conditions, generator=torch.Generator().manual_seed(0))
    scale = recorder.conditions[0].scale
    dropped = ~scale.any(dim=1)
    assert abs(dropped.float().mean().item() - p) < 0.03
    assert scale[~dropped].eq(1).all()  # the kept keys are untouched
    assert conditions.scale.eq(1).all()  # and the caller's batch is not changed


def test_groove_vector_is_the_share_of_bars_striking_each_sixteenth():
    from diffbgm.conditions import groove_vector

    roll = np.zeros((2, 128, 128), dtype=bool)
    for bar in range(4):  # bars 0-3 strike the downbeat; bars 0 and 1 also the "and" of beat 2
        roll[0, bar * 16, 60] = True
        roll[1, bar * 16 + 1 : bar * 16 + 4, 60] = True  # sustain is not an onset
    roll[0, [6, 22], 64] = True
    roll[0, [6, 22], 67] = True  # a chord counts once
    groove = groove_vector(roll)
    expected = np.full(16, -1.0, dtype=np.float32)
    expected[0] = 1.0  # every sounding bar (the four silent ones do not count)
    expected[6] = 0.0  # half of them: 2 * 0.5 - 1
    assert groove.dtype == np.float32 and np.array_equal(groove, expected)
    assert not groove_vector(None).any() and groove_vector(None).shape == (16,)
    assert not groove_vector(np.zeros((2, 128, 128), dtype=bool)).any()
    # A last, unfinished bar counts as a bar: here a fifth sounding bar, with one note on its third sixteenth.
    roll[0, 4 * 16 + 2, 72] = True
    unfinished = groove_vector(roll[:, : 4 * 16 + 7])
    assert np.allclose(unfinished[[0, 2, 6]], [2 * 4 / 5 - 1, 2 * 1 / 5 - 1, 2 * 2 / 5 - 1])


def test_condition_batch_carries_a_groove_through_moves_selection_and_cat():
    with pytest.raises(ValueError, match="groove must be"):
        batch(2).with_groove(torch.ones(2, 12))
    grooved = batch(2).with_groove(torch.ones(2, 16)).with_scale(torch.ones(2, 128))
    assert torch.equal(grooved.to("cpu").groove, grooved.groove) and grooved[1].groove.shape == (1, 16)
    assert grooved.with_groove(None).scale is grooved.scale  # replacing one keeps the other
    mixed = ConditionBatch.cat([batch(1), grooved])
    assert not mixed.groove[0].any() and mixed.groove[1:].eq(1).all() and not mixed.scale[0].any()
    assert ConditionBatch.cat([batch(1), batch(1)]).groove is None
    assert not batch(2).grooves().any() and batch(2).grooves().shape == (2, 16)


def test_loss_drops_the_groove_alone_and_apart_from_the_key():
    diffusion = GaussianDiffusion(DiffusionConfig(key_dropout=0.2, groove_dropout=0.3))
    recorder = ConditionRecorder()
    n = 4000
    conditions = ConditionBatch(torch.rand(n, 1, 4), torch.rand(n, 1, 2), torch.zeros(n, 1, dtype=torch.long),
                                torch.ones(n, 128), torch.ones(n, 16))
    diffusion.loss(recorder, torch.zeros(n, 1, 1, 1), conditions, generator=torch.Generator().manual_seed(0))
    scale, groove = recorder.conditions[0].scale, recorder.conditions[0].groove
    no_key, no_groove = ~scale.any(dim=1), ~groove.any(dim=1)
    assert abs(no_groove.float().mean().item() - 0.3) < 0.03 and abs(no_key.float().mean().item() - 0.2) < 0.03
    assert abs((no_key & no_groove).float().mean().item() - 0.06) < 0.015  # drawn independently
    assert groove[~no_groove].eq(1).all() and conditions.groove.eq(1).all()
