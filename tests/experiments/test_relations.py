"""The two-relation task of chapter 6 (attnbook.experiments.relations): cached training and head ablation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from attnbook.experiments import relations

TINY = relations.RelationsSetup(steps=5, batch_size=8, seed=3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty model cache, and one torch thread (the models are tiny)."""
    monkeypatch.setenv("ATTNBOOK_CACHE", str(tmp_path))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(before)


def test_train_relations_saves_once_and_reloads_the_same_model(cache):
    model, losses = relations.train_relations(TINY)
    assert len(losses) == TINY.steps and len(list(cache.iterdir())) == 1
    again, losses_again = relations.train_relations(TINY)
    assert losses_again == losses
    for p, q in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(p, q)


def test_train_relations_caches_each_setup_separately(cache):
    relations.train_relations(TINY)
    relations.train_relations(dataclasses.replace(TINY, num_heads=1))
    relations.train_relations(dataclasses.replace(TINY, seed=4))
    assert len(list(cache.iterdir())) == 3


def test_without_head_zeroes_that_heads_rows_of_w_o_only(cache):
    model, _ = relations.train_relations(TINY)
    ablated = relations.without_head(model, 1)
    W_o = ablated.attn.out_proj.weight.T            # course convention: concat(heads) @ W_o, rows per head
    width = TINY.d_model // TINY.num_heads
    assert torch.all(W_o[width:] == 0) and torch.equal(W_o[:width], model.attn.out_proj.weight.T[:width])
    acc = relations.accuracy(ablated, TINY, n=50)
    assert set(acc) == {"left", "flagged", "both"} and all(0 <= v <= 1 for v in acc.values())
    assert np.isfinite(relations.accuracy(model, TINY, n=50)["both"])
