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


def _tiny(steps: int, seed: int = 0, marked: bool = False) -> longrange.LookupSetup:
    return longrange.LookupSetup(length=4, num_symbols=3, emb_dim=4, hidden=6, d_model=6, steps=steps,
                                 batch_size=8, seed=seed, marked=marked)


def _states_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


@pytest.mark.parametrize("kind, table", [("gru", None), ("attention", torch.randn(5, 6))])
def test_trained_reader_is_cached_and_its_prefixes_are_the_shorter_runs(tmp_path, monkeypatch, kind, table):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    model, losses = longrange.trained_reader(_tiny(6), kind, table, prefixes=(2, 4))
    assert len(losses) == 6 and len(list(tmp_path.iterdir())) == 3          # the run and its two prefixes
    again, cached_losses = longrange.trained_reader(_tiny(6), kind, table)
    assert cached_losses == losses and _states_equal(model, again)
    short, short_losses = longrange.trained_reader(_tiny(4), kind, table)    # served by the snapshot
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path / "empty"))
    fresh, fresh_losses = longrange.trained_reader(_tiny(4), kind, table)    # trained from scratch
    assert short_losses == fresh_losses == losses[:4] and _states_equal(short, fresh)


def test_trained_reader_depends_on_the_seed_and_checks_its_arguments(tmp_path, monkeypatch):
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    a, _ = longrange.trained_reader(_tiny(3, seed=0), "gru")
    b, _ = longrange.trained_reader(_tiny(3, seed=1), "gru")
    assert not _states_equal(a, b)
    with pytest.raises(ValueError, match="kind"):
        longrange.trained_reader(_tiny(3), "lstm")
    with pytest.raises(ValueError, match="positions"):
        longrange.trained_reader(_tiny(3), "gru", torch.zeros(5, 6))
