"""The chapter 3 helpers: pairwise score models and the kernel-regression task with a learned bandwidth."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.experiments import kernels, pairwise


@pytest.fixture(autouse=True)
def one_thread():
    """These tensors are tiny: on a shared machine, torch's thread pool costs more than it saves."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_successor_targets_close_the_cycle():
    assert pairwise.successor_targets(4).tolist() == [1, 2, 3, 0]


def test_shared_projection_gives_symmetric_scores_and_separate_ones_do_not():
    E = torch.from_numpy(np.random.default_rng(0).normal(size=(6, 5)))
    torch.manual_seed(0)
    shared, separate = pairwise.PairwiseScores(5, 3, shared=True).double(), pairwise.PairwiseScores(5, 3, shared=False).double()
    with torch.no_grad():
        S_shared, S_separate = shared(E), separate(E)
    assert S_shared.shape == (6, 6)
    assert torch.allclose(S_shared, S_shared.T)
    assert not torch.allclose(S_separate, S_separate.T)
    assert sum(p.numel() for p in shared.parameters()) == 15 and sum(p.numel() for p in separate.parameters()) == 30


def test_separate_projections_learn_the_successor_relation_and_a_shared_one_cannot():
    E = np.random.default_rng(5).normal(size=(6, 8))
    target = pairwise.successor_targets(6)
    for shared, expected in ((False, 1.0), (True, 0.0)):
        model, losses = pairwise.train_pairwise_scores(E, target, d_k=6, shared=shared, steps=200)
        with torch.no_grad():
            correct = np.mean(model(torch.from_numpy(E)).argmax(1).numpy() == target)
        assert len(losses) == 200
        assert correct == expected, (shared, correct)


def test_sample_regression_is_seeded_sorted_and_noisy():
    x, y = kernels.sample_regression(seed=1, n=20, noise=0.5)
    x2, y2 = kernels.sample_regression(seed=1, n=20, noise=0.5)
    assert x.shape == y.shape == (20,) and np.all(np.diff(x) >= 0) and 0 <= x.min() and x.max() <= 5
    assert np.array_equal(x, x2) and np.array_equal(y, y2)
    assert 0.1 < np.std(y - kernels.target_function(x)) < 1.0


def test_learned_bandwidth_needs_leave_one_out():
    x, y = kernels.sample_regression(seed=0, n=50, noise=0.5)
    sigma_loo, path = kernels.fit_bandwidth(x, y, leave_one_out=True, steps=300)
    sigma_self, _ = kernels.fit_bandwidth(x, y, leave_one_out=False, steps=300)
    assert len(path) == 300 and path[-1] == sigma_loo
    assert 0.05 < sigma_loo < 0.5
    assert sigma_self < sigma_loo / 10


def test_row_cross_entropy_matches_torch():
    S = np.random.default_rng(2).normal(size=(5, 5)) * 3
    targets = pairwise.successor_targets(5)
    expected = torch.nn.functional.cross_entropy(torch.from_numpy(S), torch.from_numpy(targets)).item()
    assert pairwise.row_cross_entropy(S, targets) == pytest.approx(expected)


def test_best_symmetric_scores_is_psd_and_certified_by_the_lower_bound():
    targets = pairwise.successor_targets(6)
    S, loss = pairwise.best_symmetric_scores(targets)
    assert np.allclose(S, S.T) and np.linalg.eigvalsh(S).min() > -1e-9
    assert loss == pytest.approx(pairwise.row_cross_entropy(S, targets))
    assert pairwise.symmetric_lower_bound(S, targets) == pytest.approx(loss, abs=1e-6)
    assert np.all(S.argmax(1) == np.arange(6))      # the best symmetric scores peak on the diagonal


def test_trained_shared_model_reaches_the_best_symmetric_loss():
    E = np.random.default_rng(5).normal(size=(6, 8))
    targets = pairwise.successor_targets(6)
    _, best = pairwise.best_symmetric_scores(targets)
    _, losses = pairwise.train_pairwise_scores(E, targets, d_k=6, shared=True, steps=400)
    assert losses[-1] == pytest.approx(best, abs=1e-3)


def test_lower_bound_refuses_a_certificate_that_is_not_one():
    targets = pairwise.successor_targets(6)
    assert pairwise.symmetric_lower_bound(np.zeros((6, 6)), targets) == -np.inf   # uniform rows: P - Y not PSD
    S = np.random.default_rng(0).normal(size=(6, 6))
    S = S @ S.T
    assert pairwise.symmetric_lower_bound(S, targets) <= pairwise.best_symmetric_scores(targets)[1] + 1e-9
