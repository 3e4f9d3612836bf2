"""The Transformer layer from the course's own blocks (chapter 8), in the row convention `x @ W`.

Multi-head attention, the position-wise feed-forward network, layer normalisation and the residual
"add & norm" step, assembled into an encoder layer (self-attention, then feed-forward) and a decoder layer
(causal self-attention, cross-attention to the encoder's output, feed-forward), each post-norm (the
original Transformer's arrangement) or pre-norm. `encoder_layer_from_torch` copies the weights of a
`torch.nn.TransformerEncoderLayer` into an `EncoderLayer`, so that the book can check both compute the same
function.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn


def _uniform(rows: int, cols: int, bound: float) -> nn.Parameter:
    return nn.Parameter(torch.empty(rows, cols).uniform_(-bound, bound))


def _zeros(n: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(n))


class LayerNorm(nn.Module):
    """gamma * (x - mean) / sqrt(var + eps) + beta, with the mean and (biased) variance over the features."""

    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(d_model))
        self.beta = _zeros(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise each position's feature vector (..., d_model) separately."""
        centred = x - x.mean(-1, keepdim=True)
        variance = centred.square().mean(-1, keepdim=True)
        return self.gamma * centred / torch.sqrt(variance + self.eps) + self.beta


class FeedForward(nn.Module):
    """The position-wise network max(0, x W_1 + b_1) W_2 + b_2, the same for every position."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.W_1, self.b_1 = _uniform(d_model, d_ff, 1 / math.sqrt(d_model)), _zeros(d_ff)
        self.W_2, self.b_2 = _uniform(d_ff, d_model, 1 / math.sqrt(d_ff)), _zeros(d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map (..., d_model) to (..., d_model) through a hidden layer of d_ff ReLU units."""
        return torch.relu(x @ self.W_1 + self.b_1) @ self.W_2 + self.b_2


class MultiHeadAttention(nn.Module):
    """H heads of scaled dot-product attention; queries from `x_q`, keys and values from `x_kv`.

    Q = x_q W_q + b_q, K = x_kv W_k + b_k, V = x_kv W_v + b_v (each d_model x d_model), split into H heads of
    width d_model / H; each head computes softmax(Q_h K_h^T / sqrt(d_model / H)) V_h, and the heads,
    concatenated, are mapped by W_o (+ b_o).
    """

    def __init__(self, d_model: int, num_heads: int):
        super().__init__()
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model={d_model} does not split into num_heads={num_heads} heads of equal width")
        self.num_heads = num_heads
        bound = math.sqrt(3 / d_model)          # Glorot-uniform bound of a square matrix
        self.W_q, self.W_k, self.W_v, self.W_o = (_uniform(d_model, d_model, bound) for _ in range(4))
        self.b_q, self.b_k, self.b_v, self.b_o = (_zeros(d_model) for _ in range(4))

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor, key_mask: torch.Tensor | None = None,
                causal: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the output (B, n_q, d_model) and the weights (B, H, n_q, n_k).

        key_mask (B, n_k): True for a key that may be attended to (a real token), False for padding.
        causal: query i may attend to keys 0..i only. Every query must keep at least one key.
        """
        B, n_q, d_model = x_q.shape
        H = self.num_heads

        def by_head(z: torch.Tensor) -> torch.Tensor:            # (B, n, d_model) -> (B, H, n, d_model / H)
            return z.reshape(B, z.shape[1], H, d_model // H).transpose(1, 2)

        q = by_head(x_q @ self.W_q + self.b_q)
        k = by_head(x_kv @ self.W_k + self.b_k)
        v = by_head(x_kv @ self.W_v + self.b_v)
        scores = q @ k.transpose(-1, -2) / math.sqrt(d_model // H)           # (B, H, n_q, n_k)
        allowed = torch.ones(n_q, x_kv.shape[1], dtype=torch.bool, device=x_q.device)
        if causal:
            allowed = allowed.tril()
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, None, :]
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        heads = (weights @ v).transpose(1, 2).reshape(B, n_q, d_model)        # the heads side by side
        return heads @ self.W_o + self.b_o, weights


def add_and_norm(x: torch.Tensor, sublayer: Callable[[torch.Tensor], torch.Tensor], norm: LayerNorm,
                 norm_first: bool, residual: bool = True) -> torch.Tensor:
    """Wrap one sub-layer: post-norm LayerNorm(x + sublayer(x)), or pre-norm x + sublayer(LayerNorm(x)).

    residual=False drops the `x +` (an ablation: LayerNorm(sublayer(x)), or sublayer(LayerNorm(x))).
    """
    if norm_first:
        out = sublayer(norm(x))
        return x + out if residual else out
    out = sublayer(x)
    return norm(x + out if residual else out)


class EncoderLayer(nn.Module):
    """Self-attention, then the feed-forward network, each wrapped by `add_and_norm`.

    With causal=True in `forward` it is the layer of a decoder-only (GPT-style) model. self_attention=False
    leaves only the feed-forward sub-layer (an ablation: each position is then processed on its own).
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, norm_first: bool = False,
                 residual: bool = True, self_attention: bool = True):
        super().__init__()
        self.norm_first, self.residual = norm_first, residual
        self.attention = MultiHeadAttention(d_model, num_heads) if self_attention else None
        self.norm_attention = LayerNorm(d_model) if self_attention else None
        self.feed_forward = FeedForward(d_model, d_ff)
        self.norm_feed_forward = LayerNorm(d_model)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None, causal: bool = False) -> torch.Tensor:
        """Map x (B, n, d_model) to (B, n, d_model); key_mask (B, n) is True for real tokens."""
        if self.attention is not None:
            x = add_and_norm(x, lambda h: self.attention(h, h, key_mask, causal)[0], self.norm_attention,
                             self.norm_first, self.residual)
        return add_and_norm(x, self.feed_forward, self.norm_feed_forward, self.norm_first, self.residual)


class DecoderLayer(nn.Module):
    """Causal self-attention, cross-attention (queries from the decoder, keys and values from the encoder's
    output, the memory) and the feed-forward network, each wrapped by `add_and_norm`."""

    def __init__(self, d_model: int, num_heads: int, d_ff: int, norm_first: bool = False):
        super().__init__()
        self.norm_first = norm_first
        self.self_attention = MultiHeadAttention(d_model, num_heads)
        self.cross_attention = MultiHeadAttention(d_model, num_heads)
        self.feed_forward = FeedForward(d_model, d_ff)
        self.norms = nn.ModuleList(LayerNorm(d_model) for _ in range(3))

    def forward(self, y: torch.Tensor, memory: torch.Tensor, memory_mask: torch.Tensor | None = None
                ) -> torch.Tensor:
        """Map y (B, T, d_model) to (B, T, d_model), given memory (B, S, d_model), memory_mask (B, S) True = real."""
        sublayers = (lambda h: self.self_attention(h, h, causal=True)[0],
                     lambda h: self.cross_attention(h, memory, memory_mask)[0],
                     self.feed_forward)
        for sublayer, norm in zip(sublayers, self.norms):
            y = add_and_norm(y, sublayer, norm, self.norm_first)
        return y


class TokenAndPosition(nn.Module):
    """Token embeddings plus learned position embeddings (B, T) -> (B, T, d_model)."""

    def __init__(self, vocab: int, d_model: int, max_positions: int, pad: int = 0):
        super().__init__()
        self.token = nn.Embedding(vocab, d_model, padding_idx=pad)
        self.position = nn.Embedding(max_positions, d_model)

    def forward(self, tokens: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Embed tokens (B, T) at `positions` (B, T), by default 0, 1, ..., T - 1."""
        if positions is None:
            positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token(tokens) + self.position(positions)


def final_norm(d_model: int, norm_first: bool) -> nn.Module:
    """A pre-norm stack ends with a LayerNorm (its last residual sum is never normalised); post-norm needs none."""
    return LayerNorm(d_model) if norm_first else nn.Identity()


@torch.no_grad()
def encoder_layer_from_torch(layer: nn.TransformerEncoderLayer) -> EncoderLayer:
    """Return an `EncoderLayer` holding the weights of `layer` (ReLU, batch_first), transposed to `x @ W`.

    torch stores a linear map as (out, in) and computes x W^T + b; our matrices are its transposes.
    """
    if layer.activation_relu_or_gelu != 1:
        raise ValueError("only the ReLU feed-forward network of the original Transformer is built here")
    mha = layer.self_attn
    mine = EncoderLayer(mha.embed_dim, mha.num_heads, layer.linear1.out_features, norm_first=layer.norm_first)
    attention, ff = mine.attention, mine.feed_forward
    for W, b, W_torch, b_torch in zip((attention.W_q, attention.W_k, attention.W_v),
                                      (attention.b_q, attention.b_k, attention.b_v),
                                      mha.in_proj_weight.chunk(3), mha.in_proj_bias.chunk(3)):
        W.copy_(W_torch.T)
        b.copy_(b_torch)
    pairs = [(attention.W_o, mha.out_proj.weight.T), (attention.b_o, mha.out_proj.bias),
             (ff.W_1, layer.linear1.weight.T), (ff.b_1, layer.linear1.bias),
             (ff.W_2, layer.linear2.weight.T), (ff.b_2, layer.linear2.bias)]
    for ours, norm_torch in ((mine.norm_attention, layer.norm1), (mine.norm_feed_forward, layer.norm2)):
        pairs += [(ours.gamma, norm_torch.weight), (ours.beta, norm_torch.bias)]
        ours.eps = norm_torch.eps
    for target, source in pairs:
        target.copy_(source)
    return mine
