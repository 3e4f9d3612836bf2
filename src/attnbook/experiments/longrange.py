"""Long-range dependencies (chapter 7, E9): a lookup at a controlled distance, a recurrent reader and a
self-attention reader trained with the same budget, and the cost of each against sequence length.

An example is `length` random symbols followed by one query token. In the *distance* task the query
names a distance d (1 ≤ d ≤ length) and the answer is the symbol d positions before the query, so the
model only learns at the end which earlier symbol matters. In the *marked* task (a control) the symbol
to recall carries a flag where it appears, and the query token is always the same.
"""

from __future__ import annotations

import math
import time
import tracemalloc
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .timing import torch_threads


@dataclass(frozen=True)
class LookupSetup:
    """Everything that defines one lookup experiment: task, model sizes and the training budget."""

    length: int = 16          # symbols before the query; distances run from 1 to `length`
    num_symbols: int = 10
    marked: bool = False      # False: the query names the distance; True: the target symbol is flagged
    emb_dim: int = 32         # GRU input embedding
    hidden: int = 64          # GRU state size
    d_model: int = 64         # self-attention width
    steps: int = 1200
    batch_size: int = 64
    lr: float = 5e-3
    seed: int = 0

    @property
    def vocab(self) -> int:
        """Return the vocabulary size: symbols, flagged symbols, one token per distance, a plain query."""
        return 2 * self.num_symbols + self.length + 1


def lookup_batch(rng: np.random.Generator, n: int, setup: LookupSetup,
                 distance: int | None = None) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Return tokens (n, length + 1), targets (n,) and distances (n,); `distance` fixes d for all rows."""
    L, S = setup.length, setup.num_symbols
    symbols = rng.integers(0, S, size=(n, L))
    d = np.full(n, distance) if distance is not None else rng.integers(1, L + 1, size=n)
    rows, where = np.arange(n), L - d                   # the query sits at index L, the target at L - d
    targets = symbols[rows, where]
    tokens = symbols.copy()
    if setup.marked:
        tokens[rows, where] += S                        # the flagged copy of the symbol
        query = np.full(n, 2 * S + L)
    else:
        query = 2 * S + d - 1                           # one token per distance
    tokens = np.concatenate([tokens, query[:, None]], axis=1)
    return torch.as_tensor(tokens, dtype=torch.long), torch.as_tensor(targets, dtype=torch.long), d


class GRUReader(nn.Module):
    """A GRU reads the whole sequence; a linear layer reads the answer from its last state."""

    def __init__(self, setup: LookupSetup):
        super().__init__()
        self.embed = nn.Embedding(setup.vocab, setup.emb_dim)
        self.rnn = nn.GRU(setup.emb_dim, setup.hidden, batch_first=True)
        self.out = nn.Linear(setup.hidden, setup.num_symbols)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return logits (B, num_symbols) for tokens (B, T)."""
        return self.out(self.rnn(self.embed(tokens))[1][0])


class AttentionReader(nn.Module):
    """One single-head self-attention layer over token embeddings plus `positions` (a fixed (T, d) table,
    or None for no positional information); the answer is read from the output at the last position."""

    def __init__(self, setup: LookupSetup, positions: torch.Tensor | None = None):
        super().__init__()
        T, D = setup.length + 1, setup.d_model
        self.embed = nn.Embedding(setup.vocab, D)
        table = torch.zeros(T, D) if positions is None else torch.as_tensor(positions, dtype=torch.float32)
        if table.shape != (T, D):
            raise ValueError(f"positions must have shape {(T, D)}, got {tuple(table.shape)}")
        self.register_buffer("positions", table)
        self.q, self.k, self.v = (nn.Linear(D, D) for _ in range(3))
        self.out = nn.Linear(D, setup.num_symbols)

    def attend(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the layer's outputs (B, T, d_model) and its weights (B, T, T): every position reads every other."""
        x = self.embed(tokens) + self.positions[: tokens.shape[1]]
        q, k, v = self.q(x), self.k(x), self.v(x)
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(k.shape[-1]), dim=-1)
        return weights @ v, weights

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Return logits (B, num_symbols) for tokens (B, T)."""
        return self.out(self.attend(tokens)[0][:, -1])


def train_reader(model: nn.Module, setup: LookupSetup) -> list[float]:
    """Train `model` on fresh batches of the lookup task (Adam, clipped gradients); return the losses."""
    torch.manual_seed(setup.seed)
    rng = np.random.default_rng(setup.seed)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    losses = []
    with torch_threads(1):                              # tiny models: one thread is fastest and fair to both
        for _ in range(setup.steps):
            tokens, targets, _ = lookup_batch(rng, setup.batch_size, setup)
            loss = nn.functional.cross_entropy(model(tokens), targets)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def accuracy_by_distance(model: nn.Module, setup: LookupSetup, per_distance: int = 300,
                         seed: int = 1234) -> np.ndarray:
    """Return the accuracy on fresh examples for each distance d = 1..length; shape (length,)."""
    rng = np.random.default_rng(seed)
    acc = []
    for d in range(1, setup.length + 1):
        tokens, targets, _ = lookup_batch(rng, per_distance, setup, distance=d)
        acc.append(float((model(tokens).argmax(-1) == targets).float().mean()))
    return np.array(acc)


def majority_baseline(setup: LookupSetup, per_distance: int = 300, seed: int = 1234) -> float:
    """Return the accuracy of guessing the most frequent symbol of the sequence, an order-blind baseline."""
    rng = np.random.default_rng(seed)
    hits = []
    for d in range(1, setup.length + 1):
        tokens, targets, _ = lookup_batch(rng, per_distance, setup, distance=d)
        symbols = tokens[:, :-1].numpy() % setup.num_symbols            # flags removed
        counts = np.stack([(symbols == s).sum(1) for s in range(setup.num_symbols)], axis=1)
        hits.append(counts.argmax(1) == targets.numpy())
    return float(np.mean(hits))


@torch.no_grad()
def last_row_weights(model: AttentionReader, setup: LookupSetup, per_distance: int = 100,
                     seed: int = 4321) -> np.ndarray:
    """Return the mean attention weights of the last position (the query) for each distance; (length, T)."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(1, setup.length + 1):
        tokens, _, _ = lookup_batch(rng, per_distance, setup, distance=d)
        rows.append(model.attend(tokens)[1][:, -1].mean(0).numpy())
    return np.stack(rows)


# ---------------------------------------------------------------------------------------------------
# Cost against sequence length: time of one forward pass, and memory of the n x n weights.

def best_seconds(fn, repeats: int = 7) -> float:
    """Return the shortest CPU time of the calling thread (s) over `repeats` calls of `fn`, after one warm-up.

    Other programs on a busy machine can only add time (cache misses, shared memory bandwidth), so the
    minimum is the steadiest estimate of the cost itself.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


def attention_forward_seconds(n: int, d: int, repeats: int = 7, seed: int = 0) -> float:
    """Return the best CPU time (s, one thread) of one self-attention forward pass on n positions of width d."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen)
    Wq, Wk, Wv = (torch.randn(d, d, generator=gen) / math.sqrt(d) for _ in range(3))

    def forward():
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        return torch.softmax(Q @ K.T / math.sqrt(d), dim=-1) @ V

    with torch_threads(1), torch.no_grad():
        return best_seconds(forward, repeats)


def softmax_seconds_per_entry(n: int, repeats: int = 7, seed: int = 0) -> float:
    """Return the best CPU time (s, one thread) per entry of a row softmax over an (n, n) float32 matrix."""
    S = torch.randn(n, n, generator=torch.Generator().manual_seed(seed))
    with torch_threads(1), torch.no_grad():
        return best_seconds(lambda: torch.softmax(S, dim=-1), repeats) / (n * n)


def recurrent_forward_seconds(n: int, d: int, repeats: int = 7, seed: int = 0) -> float:
    """Return the best CPU time (s, one thread) of a GRU encoder (width d) reading n positions."""
    torch.manual_seed(seed)
    gru = nn.GRU(d, d, batch_first=True)
    X = torch.randn(1, n, d)
    with torch_threads(1), torch.no_grad():
        return best_seconds(lambda: gru(X), repeats)


def attention_peak_bytes(n: int, d: int, seed: int = 0) -> int:
    """Return the peak bytes NumPy allocates (tracemalloc) during one float64 self-attention forward pass."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Wq, Wk, Wv = (rng.normal(size=(d, d)) / math.sqrt(d) for _ in range(3))
    tracemalloc.start()
    try:
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        S = np.einsum("ik,jk->ij", Q, K) / math.sqrt(d)             # (n, n) scores
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        out = (S / S.sum(axis=1, keepdims=True)) @ V                # (n, n) weights, then (n, d)
        del Q, K, V, S, out
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def flops(n: int, d: int) -> dict[str, float]:
    """Return the floating-point operations of one forward pass on n positions of width d (2 per multiply-add).

    "self-attention": projections to Q, K, V (3 n d²) plus scores and weighted sum (2 n² d);
    "recurrent": a GRU layer, three gates each with an input and a recurrent product (6 n d²).
    """
    return {"self-attention": 2.0 * (3 * n * d * d + 2 * n * n * d), "recurrent": 2.0 * 6 * n * d * d}
