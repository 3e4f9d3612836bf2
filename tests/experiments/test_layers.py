"""The course's own Transformer layer (attnbook.experiments.layers): each block against its definition, the
encoder layer against torch.nn.TransformerEncoderLayer, and the decoder layer's masks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from attnbook.experiments import layers


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch_with_and_without_padding(norm_first):
    torch.manual_seed(0)
    theirs = nn.TransformerEncoderLayer(16, 4, 40, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = layers.encoder_layer_from_torch(theirs)
    x = torch.randn(3, 7, 16)
    real = torch.arange(7) < torch.tensor([[7], [5], [2]])
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=0)
        torch.testing.assert_close(ours(x, key_mask=real)[real], theirs(x, src_key_padding_mask=~real)[real],
                                   atol=1e-5, rtol=0)


def test_encoder_layer_from_torch_refuses_gelu():
    with pytest.raises(ValueError, match="ReLU"):
        layers.encoder_layer_from_torch(nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True))


def test_layer_norm_matches_torch_and_normalises_each_position():
    torch.manual_seed(1)
    ours, theirs = layers.LayerNorm(6), nn.LayerNorm(6)
    with torch.no_grad():
        theirs.weight.uniform_(0.5, 2.0)
        theirs.bias.normal_()
        ours.gamma.copy_(theirs.weight)
        ours.beta.copy_(theirs.bias)
    x = 3.0 + 5.0 * torch.randn(4, 5, 6)
    torch.testing.assert_close(ours(x), theirs(x), atol=1e-5, rtol=0)
    plain = layers.LayerNorm(6)(x)
    torch.testing.assert_close(plain.mean(-1), torch.zeros(4, 5), atol=1e-5, rtol=0)
    torch.testing.assert_close(plain.var(-1, unbiased=False), torch.ones(4, 5), atol=1e-3, rtol=0)


def test_feed_forward_is_position_wise_in_row_form():
    torch.manual_seed(2)
    ff = layers.FeedForward(4, 10)
    x = torch.randn(2, 3, 4)
    expected = torch.relu(x @ ff.W_1 + ff.b_1) @ ff.W_2 + ff.b_2
    torch.testing.assert_close(ff(x), expected)
    torch.testing.assert_close(ff(x[:, 1:2]), ff(x)[:, 1:2])              # each position on its own


def test_multi_head_attention_weights_respect_masks_and_sum_to_one():
    torch.manual_seed(3)
    attention = layers.MultiHeadAttention(8, 2)
    x_q, x_kv = torch.randn(2, 4, 8), torch.randn(2, 5, 8)
    real = torch.tensor([[True, True, True, False, False], [True] * 5])
    out, weights = attention(x_q, x_kv, key_mask=real)
    assert out.shape == (2, 4, 8) and weights.shape == (2, 2, 4, 5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 2, 4))
    assert torch.all(weights[0, ..., 3:] == 0)
    _, causal = attention(x_q, x_q, causal=True)
    assert torch.all(causal[..., torch.ones(4, 4, dtype=torch.bool).triu(1)] == 0)


def test_multi_head_attention_refuses_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="num_heads=3"):
        layers.MultiHeadAttention(8, 3)


def test_add_and_norm_places_the_norm_and_the_residual():
    norm, sub = layers.LayerNorm(3), (lambda h: 2.0 * h)
    x = torch.tensor([[[1.0, 2.0, 6.0]]])
    torch.testing.assert_close(layers.add_and_norm(x, sub, norm, norm_first=False), norm(3.0 * x))
    torch.testing.assert_close(layers.add_and_norm(x, sub, norm, norm_first=True), x + 2.0 * norm(x))
    torch.testing.assert_close(layers.add_and_norm(x, sub, norm, norm_first=False, residual=False), norm(2.0 * x))
    torch.testing.assert_close(layers.add_and_norm(x, sub, norm, norm_first=True, residual=False), 2.0 * norm(x))


def test_encoder_layer_without_self_attention_treats_positions_separately():
    torch.manual_seed(4)
    layer = layers.EncoderLayer(8, 2, 16, self_attention=False)
    x = torch.randn(1, 5, 8)
    torch.testing.assert_close(layer(x)[:, 2:3], layer(x[:, 2:3]))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_causal_and_ignores_padded_memory(norm_first):
    torch.manual_seed(5)
    layer = layers.DecoderLayer(8, 2, 16, norm_first=norm_first)
    y, memory = torch.randn(2, 4, 8), torch.randn(2, 6, 8)
    real = torch.tensor([[True] * 3 + [False] * 3, [True] * 6])
    out = layer(y, memory, real)
    changed = y.clone()
    changed[:, -1] += 1.0
    torch.testing.assert_close(layer(changed, memory, real)[:, :-1], out[:, :-1])   # no look at the future
    noisy = memory.clone()
    noisy[0, 3:] = 100.0
    torch.testing.assert_close(layer(y, noisy, real), out)                          # padding gets no weight
    assert not torch.allclose(layer(y, memory), out)                                # the mask is used


def test_token_and_position_embeddings_add_up():
    embed = layers.TokenAndPosition(5, 4, max_positions=6)
    tokens = torch.tensor([[1, 2, 0]])
    expected = embed.token(tokens) + embed.position(torch.arange(3))
    torch.testing.assert_close(embed(tokens), expected)
    torch.testing.assert_close(embed(tokens, positions=torch.tensor([[2, 3, 4]])),
                               embed.token(tokens) + embed.position(torch.tensor([[2, 3, 4]])))


@torch.no_grad()
def _copy_attention(ours: layers.MultiHeadAttention, theirs: nn.MultiheadAttention) -> None:
    for W, b, W_t, b_t in zip((ours.W_q, ours.W_k, ours.W_v), (ours.b_q, ours.b_k, ours.b_v),
                              theirs.in_proj_weight.chunk(3), theirs.in_proj_bias.chunk(3)):
        W.copy_(W_t.T)
        b.copy_(b_t)
    ours.W_o.copy_(theirs.out_proj.weight.T)
    ours.b_o.copy_(theirs.out_proj.bias)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_computes_what_torch_computes(norm_first):
    torch.manual_seed(6)
    theirs = nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, batch_first=True, norm_first=norm_first).eval()
    ours = layers.DecoderLayer(8, 2, 16, norm_first=norm_first)
    with torch.no_grad():
        _copy_attention(ours.self_attention, theirs.self_attn)
        _copy_attention(ours.cross_attention, theirs.multihead_attn)
        ff = ours.feed_forward
        for mine, source in [(ff.W_1, theirs.linear1.weight.T), (ff.b_1, theirs.linear1.bias),
                             (ff.W_2, theirs.linear2.weight.T), (ff.b_2, theirs.linear2.bias)]:
            mine.copy_(source)
        for norm, source in zip(ours.norms, (theirs.norm1, theirs.norm2, theirs.norm3)):
            norm.gamma.copy_(source.weight)
            norm.beta.copy_(source.bias)
        y, memory = torch.randn(2, 5, 8), torch.randn(2, 4, 8)
        real = torch.tensor([[True, True, False, False], [True] * 4])
        expected = theirs(y, memory, tgt_mask=nn.Transformer.generate_square_subsequent_mask(5), tgt_is_causal=True,
                          memory_key_padding_mask=~real)
        torch.testing.assert_close(ours(y, memory, real), expected, atol=1e-5, rtol=0)
