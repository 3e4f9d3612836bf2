"""The chapter 7 lookup task, its two readers and the cost helpers (attnbook.experiments.longrange)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.experiments import longrange


@pytest.mark.parametrize("marked", [False, True])
def test_lookup_batch_answer_is_the_symbol_d_positions_before_the_query(marked):
    setup = longrange.LookupSetup(marked=marked)
    tokens, targets, d = longrange.lookup_batch(np.random.default_rng(0), 200, setup)
    L, S = setup.length, setup.num_symbols
    assert tokens.shape == (200, L + 1) and targets.shape == (200,)
    assert d.min() >= 1 and d.max() <= L
    rows = np.arange(200)
    assert torch.equal(tokens[rows, L - d] % S, targets)             # flags (marked task) removed by % S
    assert int(tokens.max()) < setup.vocab
    if marked:
        assert torch.all(tokens[:, -1] == 2 * S + L)                 # one plain query token
        flagged = tokens[:, :-1] >= S
        assert torch.equal(flagged.sum(1), torch.ones(200, dtype=torch.long))
        assert torch.all(flagged[rows, L - d])
    else:
        assert torch.equal(tokens[:, -1], torch.as_tensor(2 * S + d - 1))   # the query names the distance
        assert torch.all(tokens[:, :-1] < S)


def test_lookup_batch_fixed_distance():
    setup = longrange.LookupSetup()
    _, _, d = longrange.lookup_batch(np.random.default_rng(1), 5, setup, distance=7)
    assert d.tolist() == [7] * 5


def test_readers_return_one_logit_per_symbol():
    setup = longrange.LookupSetup()
    tokens, _, _ = longrange.lookup_batch(np.random.default_rng(0), 3, setup)
    table = torch.randn(setup.length + 1, setup.d_model)
    for model in (longrange.GRUReader(setup), longrange.AttentionReader(setup, table), longrange.AttentionReader(setup)):
        assert model(tokens).shape == (3, setup.num_symbols)
    _, weights = longrange.AttentionReader(setup, table).attend(tokens)
    assert weights.shape == (3, setup.length + 1, setup.length + 1)
    assert torch.allclose(weights.sum(-1), torch.ones(3, setup.length + 1))
    with pytest.raises(ValueError):
        longrange.AttentionReader(setup, torch.zeros(4, setup.d_model))


def test_attention_reader_without_positions_is_permutation_equivariant():
    setup = longrange.LookupSetup()
    torch.manual_seed(0)
    model = longrange.AttentionReader(setup)
    tokens, _, _ = longrange.lookup_batch(np.random.default_rng(2), 4, setup)
    perm = torch.randperm(setup.length + 1)
    out, _ = model.attend(tokens)
    out_perm, _ = model.attend(tokens[:, perm])
    assert torch.allclose(out_perm, out[:, perm], atol=1e-5)


def test_majority_baseline_is_above_chance_and_below_one():
    acc = longrange.majority_baseline(longrange.LookupSetup(), per_distance=50)
    assert 0.1 < acc < 0.5


def test_flops_cross_where_n_is_one_and_a_half_times_d():
    f = longrange.flops(768, 512)
    assert f["self-attention"] == pytest.approx(f["recurrent"])
    assert longrange.flops(100, 512)["self-attention"] < longrange.flops(100, 512)["recurrent"]


def test_attention_peak_memory_grows_about_fourfold_when_n_doubles():
    small, large = longrange.attention_peak_bytes(256, 16), longrange.attention_peak_bytes(512, 16)
    assert large >= 2 * 512 * 512 * 8                                 # at least two n x n float64 arrays
    assert 3.2 < large / small < 4.5


def test_timers_return_positive_seconds():
    assert longrange.attention_forward_seconds(32, 8, repeats=1) > 0
    assert longrange.recurrent_forward_seconds(32, 8, repeats=1) > 0
    assert longrange.softmax_seconds_per_entry(32, repeats=1) > 0


def test_self_attention_with_positions_learns_every_distance_of_a_short_task():
    setup = longrange.LookupSetup(length=8, steps=300)
    angles = np.outer(np.arange(9), 10000.0 ** (-np.arange(0, setup.d_model, 2) / setup.d_model))
    table = torch.as_tensor(np.stack([np.sin(angles), np.cos(angles)], -1).reshape(9, setup.d_model),
                            dtype=torch.float32)
    torch.manual_seed(0)
    model = longrange.AttentionReader(setup, table)
    losses = longrange.train_reader(model, setup)
    assert len(losses) == setup.steps and losses[-1] < losses[0]
    assert longrange.accuracy_by_distance(model, setup, per_distance=100).min() > 0.9
