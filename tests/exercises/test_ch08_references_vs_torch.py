"""Chapter 8's reference solutions agree with PyTorch: DecoderBlock with TransformerDecoderLayer to 1e-5,
cross_attention with scaled_dot_product_attention, and the attention counts of the real architectures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from attnbook.grading.checks import run_in_process
from attnbook.grading.notebook import build_program, read_template
from conftest import ROOT

NAME = "ch08_attention_vs_self"


@pytest.fixture(scope="module")
def ref() -> dict:
    """The namespace of the solutions notebook: its setup cell and reference answers."""
    template = read_template(ROOT / "solutions" / NAME / f"{NAME}.ipynb")
    return run_in_process(build_program(template, {c.grade_id: c.source for c in template if c.is_answer}))


def _torch_layer(d_model: int, nhead: int, d_ff: int, seed: int) -> nn.TransformerDecoderLayer:
    torch.manual_seed(seed)
    layer = nn.TransformerDecoderLayer(d_model, nhead, d_ff, dropout=0.0, batch_first=True)
    with torch.no_grad():                                   # non-trivial LayerNorm weights and biases too
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return layer.eval()


@pytest.mark.parametrize("B,T,S,d_model,nhead,d_ff", [(2, 5, 7, 8, 2, 16), (3, 1, 4, 12, 3, 20),
                                                      (1, 9, 2, 16, 4, 8), (4, 6, 6, 6, 1, 10)])
@pytest.mark.parametrize("masked", [False, True])
def test_decoder_block_matches_torch_decoder_layer(ref, B, T, S, d_model, nhead, d_ff, masked):
    layer = _torch_layer(d_model, nhead, d_ff, seed=T * 100 + S)
    block = ref["DecoderBlock"](d_model, nhead, d_ff)
    block.load_from_torch(layer)
    block.eval()
    gen = torch.Generator().manual_seed(B + T + S)
    x, memory = torch.randn(B, T, d_model, generator=gen), torch.randn(B, S, d_model, generator=gen)
    real = (torch.arange(S) < torch.randint(1, S + 1, (B, 1), generator=gen)) if masked else None
    with torch.no_grad():
        mine = block(x, memory, memory_mask=real) if masked else block(x, memory)
        expected = layer(x, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(T), tgt_is_causal=True,
                         memory_key_padding_mask=None if real is None else ~real)
    assert mine.shape == (B, T, d_model)
    torch.testing.assert_close(mine, expected, atol=1e-5, rtol=1e-5)


def test_decoder_block_is_causal(ref):
    block = ref["DecoderBlock"](8, 2, 16).eval()
    x, memory = torch.randn(2, 6, 8), torch.randn(2, 3, 8)
    with torch.no_grad():
        before = block(x, memory)
        x[:, 4:] = torch.randn(2, 2, 8)
        after = block(x, memory)
    torch.testing.assert_close(after[:, :4], before[:, :4])
    assert not torch.allclose(after[:, 4:], before[:, 4:])


@pytest.mark.parametrize("masked", [False, True])
def test_cross_attention_matches_torch_sdpa(ref, masked):
    rng = np.random.default_rng(3)
    X_tgt, X_src = rng.normal(size=(2, 3, 4, 5)), rng.normal(size=(2, 3, 6, 5))
    W_q, W_k, W_v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 7))
    mask = rng.random((2, 3, 6)) < 0.7 if masked else None
    if masked:
        mask[..., 0] = True                                 # torch gives NaN on fully masked rows
    out, weights = ref["cross_attention"](X_tgt, X_src, W_q, W_k, W_v, src_mask=mask)
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    expected = nn.functional.scaled_dot_product_attention(
        t(X_tgt @ W_q), t(X_src @ W_k), t(X_src @ W_v), attn_mask=None if mask is None else t(mask)[..., None, :])
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-10)
    np.testing.assert_allclose(weights.sum(-1), 1.0)


def test_cross_attention_of_a_sequence_with_itself_is_self_attention(ref):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5, 4))
    W = [rng.normal(size=(4, 4)) for _ in range(3)]
    out, _ = ref["cross_attention"](X, X, *W)
    expected = nn.functional.scaled_dot_product_attention(*(torch.from_numpy(X @ w) for w in W))
    np.testing.assert_allclose(out, expected.numpy(), atol=1e-10)


def test_attention_counts_of_the_base_transformer_and_a_bert_base_encoder(ref):
    count = ref["count_attention_modules"]
    with torch.device("meta"):                              # the architecture only; no weights allocated
        base = nn.Transformer(batch_first=True)
        bert = nn.TransformerEncoder(nn.TransformerEncoderLayer(768, 12, 3072, batch_first=True), 12)
    assert count(base) == {"self": 12, "cross": 6}
    assert count(bert) == {"self": 12, "cross": 0}
