"""Chapter 6: the reference multi-head attention (NumPy and torch) matches torch.nn.MultiheadAttention,
and the two-relation task of experiment E8 is what the chapter says it is."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from attnbook.experiments import relations
from attnbook.grading.checks import Assignment
from conftest import ROOT

ATOL = 1e-5


@pytest.fixture(scope="module")
def reference() -> dict:
    return Assignment("ch06_multi_head", ROOT / "solutions", ROOT / "autograde" / "checks").reference_ns


def _torch_layer(E: int, H: int, seed: int, bias: bool = True) -> torch.nn.MultiheadAttention:
    """A torch layer with every weight random (biases too: torch initialises them to zero)."""
    torch.manual_seed(seed)
    layer = torch.nn.MultiheadAttention(E, H, batch_first=True, bias=bias)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return layer.eval()


def _inputs(seed: int, B: int, n_q: int, n_kv: int, E: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, n_q, E, generator=g), torch.randn(B, n_kv, E, generator=g), torch.randn(B, n_kv, E, generator=g)


def _allowed(seed: int, shape: tuple) -> torch.Tensor:
    """A random 'may attend' mask with at least one allowed key per query row."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(shape, generator=g) < 0.6
    mask[..., 0] = True
    return mask


@pytest.mark.parametrize("E,H,n_q,n_kv", [(8, 2, 5, 5), (12, 3, 4, 7), (16, 4, 1, 6), (6, 1, 3, 3)])
def test_reference_module_matches_torch_without_mask(reference, E, H, n_q, n_kv):
    layer = _torch_layer(E, H, seed=E + H)
    mine = reference["MultiHeadAttention"](E, H)
    mine.load_from_torch(layer)
    q, k, v = _inputs(1, 3, n_q, n_kv, E)
    with torch.no_grad():
        out, weights = mine(q, k, v)
        out_t, weights_t = layer(q, k, v, average_attn_weights=False)
    assert weights.shape == (3, H, n_q, n_kv)
    torch.testing.assert_close(weights, weights_t, atol=ATOL, rtol=0)
    torch.testing.assert_close(out, out_t, atol=ATOL, rtol=0)


def test_reference_module_matches_torch_with_default_initialisation(reference):
    torch.manual_seed(3)
    layer = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    mine = reference["MultiHeadAttention"](16, 4)
    mine.load_from_torch(layer)
    q, k, v = _inputs(2, 2, 5, 6, 16)
    with torch.no_grad():
        torch.testing.assert_close(mine(q, k, v)[0], layer(q, k, v)[0], atol=ATOL, rtol=0)


def test_reference_module_matches_torch_with_a_causal_mask(reference):
    E, H, T = 12, 3, 6
    layer = _torch_layer(E, H, seed=5)
    mine = reference["MultiHeadAttention"](E, H)
    mine.load_from_torch(layer)
    x, _, _ = _inputs(4, 2, T, T, E)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))            # True = may attend
    with torch.no_grad():
        out, weights = mine(x, x, x, causal)
        out_t, weights_t = layer(x, x, x, attn_mask=~causal, average_attn_weights=False)  # True = blocked
    torch.testing.assert_close(weights, weights_t, atol=ATOL, rtol=0)
    torch.testing.assert_close(out, out_t, atol=ATOL, rtol=0)
    assert torch.all(weights[..., ~causal] == 0)


def test_reference_module_matches_torch_with_a_padding_mask(reference):
    E, H, B, n_q, n_kv = 8, 2, 3, 4, 6
    layer = _torch_layer(E, H, seed=6)
    mine = reference["MultiHeadAttention"](E, H)
    mine.load_from_torch(layer)
    q, k, v = _inputs(5, B, n_q, n_kv, E)
    real = _allowed(7, (B, n_kv))                                       # True = a real key, not padding
    with torch.no_grad():
        out, weights = mine(q, k, v, real[:, None, :])
        out_t, weights_t = layer(q, k, v, key_padding_mask=~real, average_attn_weights=False)
    torch.testing.assert_close(weights, weights_t, atol=ATOL, rtol=0)
    torch.testing.assert_close(out, out_t, atol=ATOL, rtol=0)


def test_reference_module_matches_torch_with_a_mask_per_batch_item(reference):
    E, H, B, n_q, n_kv = 12, 4, 2, 5, 7
    layer = _torch_layer(E, H, seed=8)
    mine = reference["MultiHeadAttention"](E, H)
    mine.load_from_torch(layer)
    q, k, v = _inputs(9, B, n_q, n_kv, E)
    allowed = _allowed(10, (B, n_q, n_kv))
    blocked_per_head = (~allowed).repeat_interleave(H, dim=0)          # torch wants (B * H, n_q, n_kv)
    with torch.no_grad():
        out, weights = mine(q, k, v, allowed)
        out_t, weights_t = layer(q, k, v, attn_mask=blocked_per_head, average_attn_weights=False)
    torch.testing.assert_close(weights, weights_t, atol=ATOL, rtol=0)
    torch.testing.assert_close(out, out_t, atol=ATOL, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_torch_averaged_weights_are_the_mean_of_the_reference_heads(reference, masked):
    E, H, T = 12, 4, 5
    layer = _torch_layer(E, H, seed=11)
    mine = reference["MultiHeadAttention"](E, H)
    mine.load_from_torch(layer)
    x, _, _ = _inputs(12, 2, T, T, E)
    allowed = _allowed(13, (T, T)) if masked else None
    with torch.no_grad():
        _, weights = mine(x, x, x, allowed)
        _, averaged = layer(x, x, x, attn_mask=None if allowed is None else ~allowed, average_attn_weights=True)
    assert averaged.shape == (2, T, T)
    torch.testing.assert_close(weights.mean(dim=1), averaged, atol=ATOL, rtol=0)


@pytest.mark.parametrize("masked", [False, True])
def test_reference_numpy_function_matches_torch_without_biases(reference, masked):
    E, H, B, n_q, n_kv = 12, 3, 2, 4, 6
    layer = _torch_layer(E, H, seed=14, bias=False)
    W_in = layer.in_proj_weight.detach().double().numpy()               # (3E, E), rows = output features
    W_q, W_k, W_v = (W_in[i * E:(i + 1) * E].T for i in range(3))      # x @ W convention: transpose
    W_o = layer.out_proj.weight.detach().double().numpy().T
    q, k, v = _inputs(15, B, n_q, n_kv, E)
    allowed = _allowed(16, (B, n_q, n_kv)) if masked else None
    with torch.no_grad():
        attn_mask = None if allowed is None else (~allowed).repeat_interleave(H, dim=0)
        out_t, weights_t = layer(q, k, k, attn_mask=attn_mask, average_attn_weights=False)
    out, weights = reference["multi_head_attention"](q.double().numpy(), k.double().numpy(), W_q, W_k, W_v, W_o, H,
                                                     mask=None if allowed is None else allowed.numpy())
    np.testing.assert_allclose(weights, weights_t.numpy(), atol=ATOL, rtol=0)
    np.testing.assert_allclose(out, out_t.numpy(), atol=ATOL, rtol=0)


def test_reference_numpy_function_gives_zero_weights_to_a_query_with_no_allowed_key(reference):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4))
    W = rng.normal(size=(4, 4))
    mask = np.ones((3, 3), dtype=bool)
    mask[1] = False
    out, weights = reference["multi_head_attention"](X, X, W, W, W, W, 2, mask=mask)
    assert np.all(np.isfinite(out)) and np.all(weights[:, 1] == 0) and np.all(out[1] == 0)
    np.testing.assert_allclose(weights[:, [0, 2]].sum(-1), 1.0)


def test_reference_split_and_merge_heads_are_inverse(reference):
    X = np.random.default_rng(1).normal(size=(2, 3, 5, 12))
    parts = reference["split_heads"](X, 4)
    assert parts.shape == (2, 3, 4, 5, 3)
    np.testing.assert_array_equal(reference["merge_heads"](parts), X)


def test_relations_batch_targets_are_the_left_symbol_and_the_flagged_symbol():
    setup = relations.RelationsSetup()
    batch = relations.make_batch(np.random.default_rng(0), 50, setup)
    tokens, flags, k = batch["tokens"], batch["flags"], setup.offset
    assert torch.all(flags.sum(1) == 1)
    assert torch.all(batch["left"][:, :k] == relations.IGNORE)
    assert torch.equal(batch["left"][:, k:], tokens[:, :-k])
    flagged = tokens[flags.bool()]
    assert torch.equal(batch["flagged"], flagged[:, None].expand_as(tokens))


def test_without_head_removes_exactly_that_heads_term_of_the_output():
    setup = relations.RelationsSetup()
    torch.manual_seed(0)
    model = relations.TwoRelationModel(setup).eval()
    batch = relations.make_batch(np.random.default_rng(1), 4, setup)
    x = model.symbol(batch["tokens"]) + model.flag(batch["flags"]) + model.position(torch.arange(setup.length))
    with torch.no_grad():
        full, _ = model.attn(x, x, x)
        ablated = [relations.without_head(model, h).attn(x, x, x)[0] for h in range(setup.num_heads)]
        bias = model.attn.out_proj.bias
        # concat(heads) @ W_o^T + b is a sum over heads: the two ablations add up to the full output plus b.
        torch.testing.assert_close(ablated[0] + ablated[1], full + bias, atol=1e-5, rtol=0)
    assert model.attn.out_proj.weight.abs().min() > 0                  # the original model is untouched
