"""The key–value recall task and model of chapter 5 (attnbook.experiments.recall): data, shapes, and the baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from attnbook.experiments import recall

SETUP = recall.RecallSetup()


def test_recall_batch_has_distinct_keys_and_answers_the_queried_pair():
    batch = recall.recall_batch(np.random.default_rng(0), 200, SETUP)
    assert batch.keys.shape == batch.values.shape == (200, SETUP.pairs)
    assert all(len(set(row.tolist())) == SETUP.pairs for row in batch.keys)
    rows = torch.arange(200)
    assert torch.equal(batch.keys[rows, batch.position], batch.query)
    assert torch.equal(batch.values[rows, batch.position], batch.answer)
    assert int(batch.keys.max()) < SETUP.num_keys and int(batch.values.max()) < SETUP.num_values


def test_recall_batch_is_reproducible_from_its_generator():
    a = recall.recall_batch(np.random.default_rng(5), 10, SETUP)
    b = recall.recall_batch(np.random.default_rng(5), 10, SETUP)
    assert torch.equal(a.keys, b.keys) and torch.equal(a.values, b.values) and torch.equal(a.query, b.query)


def test_model_returns_logits_and_weights_that_sum_to_one():
    batch = recall.recall_batch(np.random.default_rng(1), 7, SETUP)
    logits, weights = recall.untrained_recall_model(SETUP)(batch.keys, batch.values, batch.query)
    assert logits.shape == (7, SETUP.num_values) and weights.shape == (7, SETUP.pairs)
    torch.testing.assert_close(weights.sum(-1), torch.ones(7))


def test_baseline_without_focus_has_uniform_weights_and_maximal_entropy():
    batch = recall.recall_batch(np.random.default_rng(2), 5, SETUP)
    _, weights = recall.untrained_recall_model(SETUP, learn_focus=False)(batch.keys, batch.values, batch.query)
    torch.testing.assert_close(weights, torch.full((5, SETUP.pairs), 1 / SETUP.pairs))
    torch.testing.assert_close(recall.row_entropy(weights), torch.full((5,), math.log(SETUP.pairs)))


def test_row_entropy_is_zero_for_one_hot_rows_and_never_nan():
    weights = torch.tensor([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    torch.testing.assert_close(recall.row_entropy(weights), torch.tensor([0.0, math.log(2)]))


def test_higher_temperature_flattens_the_weights():
    model = recall.untrained_recall_model(SETUP)
    batch = recall.heldout_batch(SETUP)
    sharp, flat = recall.evaluate(model, batch, 0.5), recall.evaluate(model, batch, 4.0)
    assert sharp["entropy"] < flat["entropy"] <= math.log(SETUP.pairs) + 1e-6


def test_weights_for_every_key_queries_each_key_in_order():
    batch = recall.recall_batch(np.random.default_rng(3), 1, SETUP)
    model = recall.untrained_recall_model(SETUP)
    A = recall.weights_for_every_key(model, batch.keys[0], batch.values[0])
    assert A.shape == (SETUP.pairs, SETUP.pairs)
    i = int(batch.position[0])
    _, row = model(batch.keys, batch.values, batch.query)
    torch.testing.assert_close(A[i], row[0])


@pytest.fixture
def one_thread():
    """Run a tiny training loop on one thread (faster than two on a busy machine), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_short_training_raises_accuracy_and_lowers_entropy(one_thread):
    setup = recall.RecallSetup(steps=150, eval_every=150, eval_size=300)
    _, history = recall.train_recall(setup)
    assert history["step"] == [0, 150]
    assert history["accuracy"][1] > history["accuracy"][0] + 0.3
    assert history["entropy"][1] < history["entropy"][0] - 0.5
