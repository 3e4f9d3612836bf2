"""Chapter 2's helpers: per-position source gradients (E3) and the timing utilities (E5)."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn

from attnbook.experiments import data, gradients, models, timing

SEQS = [[3, 4, 5, 6, 7], [8, 9, 3], [5, 5, 12, 4]]           # mixed lengths, so the batch is padded


def _gradients_by_hand(model: models.Seq2Seq, seqs: list[list[int]]) -> torch.Tensor:
    """Recompute the E3 gradients from leaf source embeddings, without hooks."""
    batch = data.make_batch(data.reversal_pairs(seqs))
    src = batch["src"]
    emb = model.embed(src).detach().requires_grad_(True)
    real = src != data.PAD
    packed = nn.utils.rnn.pack_padded_sequence(emb, real.sum(1), batch_first=True, enforce_sorted=False)
    H, c = model.encoder(packed)
    H, _ = nn.utils.rnn.pad_packed_sequence(H, batch_first=True, total_length=src.shape[1])
    c = c[0]
    s, loss = c, 0.0
    for t in range(batch["tgt_in"].shape[1]):
        logits, s, _ = model.step(batch["tgt_in"][:, t], s, H, c, real)
        loss = loss + nn.functional.cross_entropy(logits, batch["tgt_out"][:, t], ignore_index=data.PAD,
                                                  reduction="sum")
    loss.backward()
    return emb.grad.norm(dim=-1)


@pytest.mark.parametrize("attention", [False, True])
def test_source_gradient_norms_are_the_gradients_of_the_source_embeddings(attention):
    torch.manual_seed(0)
    model = models.Seq2Seq(data.vocab_size(10), emb_dim=8, hidden=12, attention=attention)
    got = gradients.source_gradient_norms(model, SEQS)
    expected = _gradients_by_hand(model, SEQS)
    assert got.shape == (len(SEQS), max(map(len, SEQS)))
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=1e-5)


def test_source_gradient_norms_are_zero_on_padding_and_leave_no_parameter_gradients():
    torch.manual_seed(1)
    model = models.Seq2Seq(data.vocab_size(10), emb_dim=8, hidden=12, attention=True)
    got = gradients.source_gradient_norms(model, SEQS)
    assert torch.all(got[1, 3:] == 0) and torch.all(got[2, 4:] == 0)
    assert torch.all(got[0] > 0)
    assert all(p.grad is None for p in model.parameters())


def test_median_seconds_takes_the_median_of_the_given_clock():
    ticks = itertools.count()
    clock_values = iter([0, 5, 10, 11, 20, 23])              # three calls lasting 5, 1 and 3 units
    calls = []
    result = timing.median_seconds(lambda: calls.append(next(ticks)), repeats=3, warmup=2,
                                   clock=lambda: next(clock_values))
    assert result == 3
    assert len(calls) == 5                                  # two warm-up calls, then three timed ones


def test_torch_threads_restores_the_previous_setting():
    before = torch.get_num_threads()
    with timing.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
