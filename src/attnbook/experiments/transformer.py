"""A tiny Transformer encoder–decoder for the reversal task (chapter 8), built on torch.nn.Transformer.

The model keeps the interface of `models.Seq2Seq` (`forward(src, tgt_in)`, `generate(src, max_len)`), so
`training.exact_match_by_length` evaluates it unchanged. Positions are learned embeddings.
"""

from __future__ import annotations

import inspect
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from . import data, models, training
from .data import BOS, EOS, PAD
from .training import ReversalSetup, fit_reversal, seed_everything


@dataclass(frozen=True)
class TransformerConfig:
    """Size and optimiser settings of the tiny Transformer; steps and batch size come from the setup."""

    d_model: int = 32
    nhead: int = 4
    num_layers: int = 2          # encoder layers, and as many decoder layers
    d_ff: int = 128
    max_positions: int = 64
    lr: float = 3e-3             # the learning rate of the recurrent models of chapters 1-2
    warmup: int = 100            # steps of linear learning-rate warm-up, then linear decay to zero


class TinyTransformer(nn.Module):
    """Token and learned position embeddings, `torch.nn.Transformer` (post-norm), and an output layer."""

    def __init__(self, vocab: int, config: TransformerConfig = TransformerConfig()):
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(vocab, config.d_model, padding_idx=PAD)
        self.pos = nn.Embedding(config.max_positions, config.d_model)
        self.core = nn.Transformer(config.d_model, config.nhead, config.num_layers, config.num_layers,
                                   config.d_ff, dropout=0.0, batch_first=True)
        self.core.encoder.use_nested_tensor = False     # keep padded positions as ordinary tensors
        self.out = nn.Linear(config.d_model, vocab)

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return token plus position embeddings (B, T, d_model) for tokens (B, T)."""
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.embed(tokens) + self.pos(positions)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the encoder output (memory, B x S x d_model) and the real-token mask (B, S)."""
        real = src != PAD
        return self.core.encoder(self._embed(src), src_key_padding_mask=~real), real

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        """Return logits (B, T, V) for decoder inputs (B, T); position t sees inputs up to t only."""
        T = tgt_in.shape[1]
        causal = nn.Transformer.generate_square_subsequent_mask(T, device=tgt_in.device)
        y = self.core.decoder(self._embed(tgt_in), memory, tgt_mask=causal, tgt_is_causal=True,
                              memory_key_padding_mask=~real)
        return self.out(y)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Return teacher-forced logits (B, T, V) for sources (B, S) and decoder inputs (B, T)."""
        memory, real = self.encode(src)
        return self.decode(tgt_in, memory, real)

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int) -> tuple[list[list[int]], None]:
        """Greedy-decode each source (B, S); return token lists (EOS excluded) and None (no RNN weights)."""
        memory, real = self.encode(src)
        tokens = torch.full((src.shape[0], 1), BOS, dtype=torch.long)
        for _ in range(max_len):
            nxt = self.decode(tokens, memory, real)[:, -1].argmax(-1)
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
        rows = tokens[:, 1:].tolist()
        return [row[: row.index(EOS)] if EOS in row else row for row in rows], None


def train_scheduled(model: nn.Module, setup: ReversalSetup, lr: float, warmup: int) -> list[float]:
    """Train any reversal model (`model(src, tgt_in) -> logits`) in place with warm-up then linear decay.

    Same data stream, steps, batch size, optimiser and clipping as `training.trained_reversal_model`; returns the losses.
    """
    rng = seed_everything(setup.seed)
    return fit_reversal(model, setup, rng, lr,
                        lambda step: min((step + 1) / warmup, (setup.steps - step) / (setup.steps - warmup)))


def _build(kind: str, setup: ReversalSetup, config: TransformerConfig) -> nn.Module:
    torch.manual_seed(setup.seed)
    vocab = data.vocab_size(setup.num_symbols)
    if kind == "transformer":
        return TinyTransformer(vocab, config)
    return models.Seq2Seq(vocab, setup.emb_dim, setup.hidden, attention=(kind == "seq2seq-attn"))


def trained_scheduled(kind: str, setup: ReversalSetup, config: TransformerConfig = TransformerConfig()
                      ) -> tuple[nn.Module, list[float]]:
    """Return a reversal model trained by `train_scheduled` with `config.lr` and `config.warmup`, cached on disk.

    kind: "transformer" (a TinyTransformer of `config`), "seq2seq-attn" or "seq2seq" (the GRUs of chapters 1-2).
    """
    model = _build(kind, setup, config)
    sources = (inspect.getmodule(TinyTransformer), models, data, training)
    code = "".join(inspect.getsource(m) for m in sources) + torch.__version__
    return training.cached_training(f"scheduled-{kind}", kind + repr(asdict(setup)) + repr(asdict(config)) + code,
                                    model, lambda: train_scheduled(model, setup, config.lr, config.warmup))


def trained_reversal_transformer(setup: ReversalSetup, config: TransformerConfig = TransformerConfig()
                                 ) -> tuple[TinyTransformer, list[float]]:
    """Return the TinyTransformer of `config` trained on reversal with the setup's budget (cached)."""
    return trained_scheduled("transformer", setup, config)


@contextmanager
def _recording(modules: list[nn.MultiheadAttention], store: list[list[torch.Tensor]]):
    """Record per-head weights (B, H, n_q, n_k) of every call of each module while the block runs."""
    def hook(module, args, kwargs, output):
        kw = {**kwargs, "need_weights": True, "average_attn_weights": False}
        store[modules.index(module)].append(module.forward(*args, **kw)[1].detach())
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in modules]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


@torch.no_grad()
def attention_maps(model: TinyTransformer, src: torch.Tensor, tgt_in: torch.Tensor) -> dict[str, np.ndarray]:
    """Return per-layer, per-head weights for a teacher-forced pass.

    Keys "encoder self", "decoder self", "cross": arrays (layers, B, H, n_q, n_k).
    """
    groups = {
        "encoder self": [layer.self_attn for layer in model.core.encoder.layers],
        "decoder self": [layer.self_attn for layer in model.core.decoder.layers],
        "cross": [layer.multihead_attn for layer in model.core.decoder.layers],
    }
    stores = {name: [[] for _ in mods] for name, mods in groups.items()}
    was_training = model.training
    model.train()               # dropout is 0; training mode only avoids the fused inference path
    try:
        with _recording(groups["encoder self"], stores["encoder self"]), \
                _recording(groups["decoder self"], stores["decoder self"]), \
                _recording(groups["cross"], stores["cross"]):
            model(src, tgt_in)
    finally:
        model.train(was_training)
    return {name: np.stack([calls[0].numpy() for calls in store]) for name, store in stores.items()}
