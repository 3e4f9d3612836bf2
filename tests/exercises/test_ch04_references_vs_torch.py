"""Chapter 4: the reference solutions agree with PyTorch's own attention, softmax and cosine similarity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attnbook.grading.checks import Assignment
from conftest import ROOT

NAME = "ch04_three_stages"


@pytest.fixture(scope="module")
def ref() -> dict:
    return Assignment(NAME, ROOT / "solutions", ROOT / "autograde" / "checks").reference_ns


def _mask(rng: np.random.Generator, shape: tuple, fully_masked_rows: bool) -> np.ndarray:
    mask = rng.random(shape) < 0.6
    mask[..., 0] = True
    if fully_masked_rows:
        mask[..., 1, :] = False
    return mask


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mask_kind", ["none", "per-key", "per-query-key", "fully-masked-rows"])
def test_scaled_dot_product_attention_matches_torch(ref, seed, mask_kind):
    rng = np.random.default_rng(seed)
    batch, n_q, n_k, d_k, d_v = (2, 3)[: 1 + seed % 2], 4 + seed % 3, 5 + seed, 8, 3 + seed
    Q, K = rng.normal(size=batch + (n_q, d_k)), rng.normal(size=batch + (n_k, d_k))
    V = rng.normal(size=batch + (n_k, d_v))
    mask = {"none": None, "per-key": _mask(rng, (n_k,), False),
            "per-query-key": _mask(rng, batch + (n_q, n_k), False),
            "fully-masked-rows": _mask(rng, batch + (n_q, n_k), True)}[mask_kind]
    out, weights = ref["scaled_dot_product_attention"](Q, K, V, mask=mask)
    # torch rejects some lower-rank masks that NumPy broadcasting accepts: give it the full shape
    t_mask = None if mask is None else torch.from_numpy(np.broadcast_to(mask, batch + (n_q, n_k)).copy())
    expected = F.scaled_dot_product_attention(*(torch.from_numpy(a) for a in (Q, K, V)), attn_mask=t_mask).numpy()
    assert out.shape == expected.shape and weights.shape == batch + (n_q, n_k)
    live = np.ones(batch + (n_q,), dtype=bool) if mask is None else np.broadcast_to(mask, weights.shape).any(-1)
    np.testing.assert_allclose(out[live], expected[live], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out[~live], 0.0)              # a fully masked row: zero output, never NaN
    np.testing.assert_allclose(weights.sum(-1), live.astype(float), atol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e4])
def test_masked_softmax_matches_torch_softmax_of_minus_inf_filled_scores(ref, scale):
    rng = np.random.default_rng(11)
    scores = scale * rng.normal(size=(2, 4, 6))
    mask = _mask(rng, (2, 4, 6), True)
    got = ref["masked_softmax"](scores, mask)
    t = torch.from_numpy(scores).masked_fill(~torch.from_numpy(mask), float("-inf"))
    expected = torch.softmax(t, dim=-1).numpy()
    live = mask.any(-1)
    assert not np.isnan(got).any()
    np.testing.assert_allclose(got[live], expected[live], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(got[~live], 0.0)


def test_score_functions_match_torch(ref):
    rng = np.random.default_rng(3)
    Q, K = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5))
    tQ, tK = torch.from_numpy(Q), torch.from_numpy(K)
    np.testing.assert_allclose(ref["dot_scores"](Q, K), (tQ @ tK.mT).numpy(), rtol=1e-12)
    np.testing.assert_allclose(ref["scaled_dot_scores"](Q, K), (tQ @ tK.mT / 5 ** 0.5).numpy(), rtol=1e-12)
    cos = F.cosine_similarity(tQ[..., :, None, :], tK[..., None, :, :], dim=-1).numpy()
    np.testing.assert_allclose(ref["cosine_scores"](Q, K), cos, rtol=1e-10, atol=1e-12)
    W_q, W_k, v = rng.normal(size=(5, 7)), rng.normal(size=(5, 7)), rng.normal(size=7)
    hidden = torch.tanh((tQ @ torch.from_numpy(W_q))[..., :, None, :] + (tK @ torch.from_numpy(W_k))[..., None, :, :])
    np.testing.assert_allclose(ref["additive_scores_batch"](Q, K, W_q, W_k, v),
                               (hidden @ torch.from_numpy(v)).numpy(), rtol=1e-10, atol=1e-12)
    weights = torch.softmax(torch.from_numpy(rng.normal(size=(2, 4, 6))), -1)
    V = rng.normal(size=(2, 6, 3))
    np.testing.assert_allclose(ref["weighted_sum"](weights.numpy(), V), (weights @ torch.from_numpy(V)).numpy(),
                               rtol=1e-12)
