"""Small Transformers for the reversal task (chapter 8, E10), built from the course's own layers (`layers`).

`TinyTransformer` is an encoder–decoder (optionally without the encoder's self-attention, an ablation);
`DecoderOnlyTransformer` reads the source, a separator and the target as one causal sequence. Both keep the
interface of `models.Seq2Seq` (`forward(src, tgt_in) -> logits`, `generate(src, max_len)`), so
`training.fit_reversal` trains them and `training.exact_match_by_length` evaluates them unchanged.
Positions are learned embeddings.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass, replace
from typing import Callable

import numpy as np
import torch
from torch import nn

from . import data, layers, models, training
from .data import BOS, EOS, PAD
from .layers import DecoderLayer, EncoderLayer, MultiHeadAttention, TokenAndPosition, final_norm
from .training import ReversalSetup, fit_reversal, seed_everything


@dataclass(frozen=True)
class TransformerConfig:
    """Size, arrangement and optimiser settings of a small Transformer; steps and batch size come from the setup."""

    d_model: int = 32
    nhead: int = 4
    num_layers: int = 2          # encoder layers and as many decoder layers; a decoder-only model gets both
    d_ff: int = 128
    max_positions: int = 64
    norm_first: bool = False     # False: post-norm, as in the original Transformer
    encoder_self_attention: bool = True
    lr: float = 3e-3             # the learning rate of the recurrent models of chapters 1-2
    warmup: int = 100            # steps of linear learning-rate warm-up, then linear decay to zero


def _greedy(logits_for: Callable[[torch.Tensor], torch.Tensor], batch_size: int, max_len: int) -> list[list[int]]:
    """Greedy decoding: start from BOS, append the most likely next token `max_len` times; cut at EOS."""
    tokens = torch.full((batch_size, 1), BOS, dtype=torch.long)
    for _ in range(max_len):
        tokens = torch.cat([tokens, logits_for(tokens)[:, -1].argmax(-1)[:, None]], dim=1)
    rows = tokens[:, 1:].tolist()
    return [row[: row.index(EOS)] if EOS in row else row for row in rows]


class TinyTransformer(nn.Module):
    """Encoder–decoder: an encoder stack over the source, a decoder stack (causal, with cross-attention to the
    encoder's output) over the target, and a linear output layer."""

    def __init__(self, vocab: int, config: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.config = config
        c = config
        self.embed = TokenAndPosition(vocab, c.d_model, c.max_positions, PAD)
        self.encoder = nn.ModuleList(EncoderLayer(c.d_model, c.nhead, c.d_ff, c.norm_first,
                                                  self_attention=c.encoder_self_attention)
                                     for _ in range(c.num_layers))
        self.decoder = nn.ModuleList(DecoderLayer(c.d_model, c.nhead, c.d_ff, c.norm_first)
                                     for _ in range(c.num_layers))
        self.encoder_norm, self.decoder_norm = final_norm(c.d_model, c.norm_first), final_norm(c.d_model, c.norm_first)
        self.out = nn.Linear(c.d_model, vocab)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the encoder output (memory, B x S x d_model) and the real-token mask (B, S)."""
        real = src != PAD
        x = self.embed(src)
        for layer in self.encoder:
            x = layer(x, key_mask=real)
        return self.encoder_norm(x), real

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Return logits (B, T, V) for decoder inputs (B, T); position t sees decoder inputs up to t only."""
        y = self.embed(tgt_in)
        for layer in self.decoder:
            y = layer(y, memory, memory_mask=real)
        return self.out(self.decoder_norm(y))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Return teacher-forced logits (B, T, V) for sources (B, S) and decoder inputs (B, T)."""
        return self.decode(tgt_in, *self.encode(src))

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int) -> tuple[list[list[int]], None]:
        """Greedy-decode each source (B, S); return token lists (EOS excluded) and None (no RNN weights)."""
        memory, real = self.encode(src)
        return _greedy(lambda tokens: self.decode(tokens, memory, real), src.shape[0], max_len), None

    def attention_blocks(self) -> dict[str, list[MultiHeadAttention]]:
        """Return the attention blocks by kind, layer by layer."""
        encoder = [layer.attention for layer in self.encoder if layer.attention is not None]
        return {"encoder self": encoder, "decoder self": [layer.self_attention for layer in self.decoder],
                "cross": [layer.cross_attention for layer in self.decoder]}


class DecoderOnlyTransformer(nn.Module):
    """One causal self-attention stack over `source + BOS + target`: BOS separates the two sequences, and the
    outputs from BOS on predict the target. It has as many layers as an encoder and a decoder together."""

    def __init__(self, vocab: int, config: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.config = config
        c = config
        self.embed = TokenAndPosition(vocab, c.d_model, c.max_positions, PAD)
        self.layers = nn.ModuleList(EncoderLayer(c.d_model, c.nhead, c.d_ff, c.norm_first)
                                    for _ in range(2 * c.num_layers))
        self.norm = final_norm(c.d_model, c.norm_first)
        self.out = nn.Linear(c.d_model, vocab)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Return logits (B, T, V) at the decoder inputs (B, T) of the sequence `src + tgt_in` (tgt_in starts with BOS).

        The source padding sits in the middle of the sequence: it is masked as a key, and positions count
        real tokens only, so every real token computes what it would without padding.
        """
        tokens = torch.cat([src, tgt_in], dim=1)
        real = tokens != PAD
        x = self.embed(tokens, positions=(real.cumsum(1) - 1).clamp(min=0))
        for layer in self.layers:
            x = layer(x, key_mask=real, causal=True)
        return self.out(self.norm(x))[:, src.shape[1]:]

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int) -> tuple[list[list[int]], None]:
        """Greedy-decode each source (B, S); return token lists (EOS excluded) and None."""
        return _greedy(lambda tokens: self(src, tokens), src.shape[0], max_len), None

    def attention_blocks(self) -> dict[str, list[MultiHeadAttention]]:
        """Return the attention blocks, layer by layer (all causal self-attention over the joint sequence)."""
        return {"self": [layer.attention for layer in self.layers]}


def train_scheduled(model: nn.Module, setup: ReversalSetup, lr: float, warmup: int) -> list[float]:
    """Train any reversal model (`model(src, tgt_in) -> logits`) in place with warm-up then linear decay.

    Same data stream, steps, batch size, optimiser and clipping as `training.trained_reversal_model`; returns the losses.
    """
    rng = seed_everything(setup.seed)
    return fit_reversal(model, setup, rng, lr,
                        lambda step: min((step + 1) / warmup, (setup.steps - step) / (setup.steps - warmup)))


KINDS = ("transformer", "decoder-only", "seq2seq-attn", "seq2seq")


def _build(kind: str, setup: ReversalSetup, config: TransformerConfig) -> nn.Module:
    torch.manual_seed(setup.seed)
    vocab = data.vocab_size(setup.num_symbols)
    if kind == "transformer":
        return TinyTransformer(vocab, config)
    if kind == "decoder-only":
        return DecoderOnlyTransformer(vocab, config)
    if kind in ("seq2seq-attn", "seq2seq"):
        return models.Seq2Seq(vocab, setup.emb_dim, setup.hidden, attention=(kind == "seq2seq-attn"))
    raise ValueError(f"unknown model kind {kind!r}; choose from {KINDS}")


def trained_scheduled(kind: str, setup: ReversalSetup, config: TransformerConfig = TransformerConfig()
                      ) -> tuple[nn.Module, list[float]]:
    """Return a reversal model trained by `train_scheduled` with `config.lr` and `config.warmup`, cached on disk.

    kind: "transformer" (a TinyTransformer of `config`), "decoder-only" (a DecoderOnlyTransformer of `config`),
    "seq2seq-attn" or "seq2seq" (the GRUs of chapters 1-2). The seed is `setup.seed`.
    """
    model = _build(kind, setup, config)
    sources = (inspect.getmodule(TinyTransformer), layers, models, data, training)
    code = "".join(inspect.getsource(m) for m in sources) + torch.__version__
    return training.cached_training(f"scheduled-{kind}", kind + repr(asdict(setup)) + repr(asdict(config)) + code,
                                    model, lambda: train_scheduled(model, setup, config.lr, config.warmup))


E10_MODELS: dict[str, Callable[[ReversalSetup, TransformerConfig], tuple[nn.Module, list[float]]]] = {
    "no attention": lambda setup, config: training.trained_reversal_model(setup, attention=False),
    "additive attention": lambda setup, config: training.trained_reversal_model(setup, attention=True),
    "control": lambda setup, config: trained_scheduled("seq2seq-attn", setup, config),
    "transformer": lambda setup, config: trained_scheduled("transformer", setup, config),
    "no encoder self-attention": lambda setup, config: trained_scheduled(
        "transformer", setup, replace(config, encoder_self_attention=False)),
    "decoder-only": lambda setup, config: trained_scheduled("decoder-only", setup, config),
}
"""Chapter 8's E10 models by name: the GRUs of chapters 1-2 (constant learning rate), the attention GRU with
the Transformer's schedule (the control), the Transformer and its two ablations (warm-up, then decay)."""


def trained_for_e10(name: str, setup: ReversalSetup, config: TransformerConfig = TransformerConfig()
                    ) -> tuple[nn.Module, list[float]]:
    """Return E10's model `name` (a key of E10_MODELS) trained with `setup`, its seed included (cached on disk)."""
    return E10_MODELS[name](setup, config)


@torch.no_grad()
def attention_maps(model: TinyTransformer | DecoderOnlyTransformer, src: torch.Tensor, tgt_in: torch.Tensor
                   ) -> dict[str, np.ndarray]:
    """Return the per-layer, per-head weights of a teacher-forced pass, by kind (`model.attention_blocks()`).

    Each value is an array (layers, B, H, n_q, n_k); kinds without blocks are left out.
    """
    groups = {name: blocks for name, blocks in model.attention_blocks().items() if blocks}
    records: dict[nn.Module, torch.Tensor] = {}

    def record(module: nn.Module, args: tuple, out: tuple[torch.Tensor, torch.Tensor]) -> None:
        records[module] = out[1]                       # (B, H, n_q, n_k); returning None keeps the output

    handles = [block.register_forward_hook(record) for blocks in groups.values() for block in blocks]
    try:
        model(src, tgt_in)
    finally:
        for handle in handles:
            handle.remove()
    return {name: np.stack([records[block].numpy() for block in blocks]) for name, blocks in groups.items()}
