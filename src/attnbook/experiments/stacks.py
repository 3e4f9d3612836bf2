"""Why the Transformer layer adds and normalises (chapter 8): deep encoder stacks trained with residual
connections in the post-norm and the pre-norm arrangement, and without residual connections.

The task needs the encoder alone: each sequence is mirrored in place, so position i must output the token
at position T - 1 - i. A position cannot know T by itself, so the stack must relate positions (attention)
and keep each token's identity on its way through the layers.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from . import data, layers, training
from .data import PAD
from .layers import EncoderLayer, TokenAndPosition, final_norm

ARRANGEMENTS = {                    # name -> EncoderLayer options
    "post-norm": {"norm_first": False, "residual": True},
    "pre-norm": {"norm_first": True, "residual": True},
    "no residual": {"norm_first": False, "residual": False},
}


@dataclass(frozen=True)
class StackSetup:
    """The stack's size, the task and the training budget (Adam at a constant rate, no warm-up)."""

    depth: int = 6
    d_model: int = 32
    nhead: int = 4
    d_ff: int = 64
    num_symbols: int = 10
    min_len: int = 3
    max_len: int = 10
    steps: int = 150
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0


class EncoderStack(nn.Module):
    """Token and position embeddings, `depth` encoder layers of one arrangement, and a per-position output layer."""

    def __init__(self, setup: StackSetup, arrangement: str):
        super().__init__()
        options = ARRANGEMENTS[arrangement]
        vocab = data.vocab_size(setup.num_symbols)
        self.embed = TokenAndPosition(vocab, setup.d_model, setup.max_len, PAD)
        self.layers = nn.ModuleList(EncoderLayer(setup.d_model, setup.nhead, setup.d_ff, **options)
                                    for _ in range(setup.depth))
        self.norm = final_norm(setup.d_model, options["norm_first"])
        self.out = nn.Linear(setup.d_model, vocab)

    def forward(self, src: torch.Tensor) -> torch.Tensor:
        """Return logits (B, T, V) for tokens (B, T): one prediction per position."""
        real = src != PAD
        x = self.embed(src)
        for layer in self.layers:
            x = layer(x, key_mask=real)
        return self.out(self.norm(x))


def mirror_batch(rng: np.random.Generator, n: int, setup: StackSetup) -> tuple[torch.Tensor, torch.Tensor]:
    """Return padded sources (n, T) and their mirror images (n, T), padding in the same places."""
    seqs = data.random_sequences(rng, n, setup.min_len, setup.max_len, setup.num_symbols)
    return data.pad_batch(seqs), data.pad_batch([s[::-1] for s in seqs])


def _train(model: EncoderStack, setup: StackSetup) -> list[float]:
    rng = np.random.default_rng(setup.seed)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    losses = []
    model.train()
    for _ in range(setup.steps):
        src, target = mirror_batch(rng, setup.batch_size, setup)
        logits = model(src)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1),
                                           ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    return losses


def trained_stack(arrangement: str, setup: StackSetup = StackSetup()) -> tuple[EncoderStack, list[float]]:
    """Return an `EncoderStack` of `arrangement` trained on the mirror task, and its loss per step (cached)."""
    torch.manual_seed(setup.seed)
    model = EncoderStack(setup, arrangement)
    code = "".join(inspect.getsource(m) for m in (inspect.getmodule(EncoderStack), layers, data)) + torch.__version__
    return training.cached_training(f"stack-{arrangement.replace(' ', '-')}", arrangement + repr(asdict(setup)) + code,
                                    model, lambda: _train(model, setup))


@torch.no_grad()
def token_accuracy(model: EncoderStack, setup: StackSetup, n: int = 500, seed: int = 1234) -> float:
    """Return the fraction of real positions of `n` fresh sequences whose mirrored token is predicted."""
    src, target = mirror_batch(np.random.default_rng(seed), n, setup)
    predicted = model.eval()(src).argmax(-1)
    real = target != PAD
    return float((predicted[real] == target[real]).float().mean())
