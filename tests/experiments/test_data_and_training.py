"""The reversal data and the shared training loop of chapters 1, 2 and 8."""

from __future__ import annotations

import torch

from attnbook.experiments import data, models, training


def test_fit_trains_on_the_given_batches_and_reduces_the_loss():
    torch.manual_seed(0)
    model = models.Seq2Seq(data.vocab_size(4), emb_dim=8, hidden=16, attention=True)
    batch = data.make_batch(data.reversal_pairs([[3, 4, 5], [6, 5, 4, 3]]))
    losses = training.fit(model, [batch] * 30, lr=1e-2)
    assert len(losses) == 30 and losses[-1] < 0.5 * losses[0]


def test_pad_batch_adds_prefix_and_suffix_and_pads_each_row_to_the_longest():
    got = data.pad_batch([[5, 6], [7], [8, 9, 10]], prefix=[data.BOS], suffix=[data.EOS])
    assert got.dtype == torch.long
    assert got.tolist() == [[1, 5, 6, 2, 0], [1, 7, 2, 0, 0], [1, 8, 9, 10, 2]]
