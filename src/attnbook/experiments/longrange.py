"""Long-range dependencies (chapter 7, E9): a lookup at a controlled distance, a recurrent reader and a
self-attention reader trained with the same budget and cached on disk (their cost against the sequence
length is measured in `layer_cost`).

An example is `length` random symbols followed by one query token. In the *distance* task the query
names a distance d (1 ≤ d ≤ length) and the answer is the symbol d positions before the query, so the
model only learns at the end which earlier symbol matters. In the *marked* task (a control) the symbol
to recall carries a flag where it appears, and the query token is always the same.
"""

from __future__ import annotations

import hashlib
import inspect
import math
from dataclasses import asdict, dataclass, replace
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .timing import torch_threads
from .training import cached_training


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


def train_reader(model: nn.Module, setup: LookupSetup, after_step: Callable[[int], None] | None = None
                 ) -> list[float]:
    """Train `model` on fresh batches of the lookup task (Adam, clipped gradients); return the losses.

    `after_step(k)`, when given, is called after the k-th step (k = 1, ..., setup.steps).
    """
    torch.manual_seed(setup.seed)
    rng = np.random.default_rng(setup.seed)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    losses = []
    with torch_threads(1):                              # tiny models: one thread is fastest and fair to both
        for step in range(1, setup.steps + 1):
            tokens, targets, _ = lookup_batch(rng, setup.batch_size, setup)
            loss = nn.functional.cross_entropy(model(tokens), targets)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            losses.append(loss.item())
            if after_step:
                after_step(step)
    model.eval()
    return losses


def trained_reader(setup: LookupSetup, kind: str, positions: torch.Tensor | None = None,
                   prefixes: Sequence[int] = ()) -> tuple[nn.Module, list[float]]:
    """Return a reader of `kind` ("gru" or "attention", the latter with the fixed `positions` table or
    none) trained on `setup` (its seed sets the initial weights and the data), and its losses, cached on disk.

    Training is deterministic, so the model trained for k < setup.steps steps with the same seed is this
    run after k steps: for each k in `prefixes` that snapshot is cached too, as the run with `steps` = k.
    """
    if kind not in ("gru", "attention"):
        raise ValueError(f"kind must be 'gru' or 'attention', got {kind!r}")
    if kind == "gru" and positions is not None:
        raise ValueError("a GRU reader takes no positions table")
    table = "none" if positions is None else hashlib.sha256(
        torch.as_tensor(positions, dtype=torch.float32).numpy().tobytes()).hexdigest()
    code = "".join(inspect.getsource(f) for f in (LookupSetup, lookup_batch, GRUReader, AttentionReader,
                                                   train_reader, trained_reader))

    def build() -> nn.Module:
        return GRUReader(setup) if kind == "gru" else AttentionReader(setup, positions)

    def key(run: LookupSetup) -> str:
        return repr(asdict(run)) + kind + table + code

    snapshots: dict[int, dict[str, torch.Tensor]] = {}

    def keep_snapshot(step: int) -> None:
        if step in prefixes:
            snapshots[step] = {k: v.clone() for k, v in model.state_dict().items()}

    torch.manual_seed(setup.seed)                       # the initial weights depend on the seed only
    model = build()
    model, losses = cached_training(f"lookup-{kind}", key(setup), model,
                                    lambda: train_reader(model, setup, keep_snapshot))
    for steps, state in snapshots.items():
        prefix = build()
        prefix.load_state_dict(state)
        cached_training(f"lookup-{kind}", key(replace(setup, steps=steps)), prefix, lambda: losses[:steps])
    return model, losses


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
