"""Key–value recall: a toy task that needs attention to focus, and a single attention layer that learns it.

An example is a set of `pairs` (key, value) tokens followed by a query key; the answer is the value
paired with that key. Each pair is one position of the sequence (its embedding is the key's embedding
plus the value's), so one attention layer whose query is the query key solves the task exactly when it
puts all its weight on the position holding that key.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn


@dataclass(frozen=True)
class RecallSetup:
    """Everything that defines one recall experiment: vocabulary, sequence length, model and budget."""

    num_keys: int = 16
    num_values: int = 16
    pairs: int = 8
    dim: int = 32
    steps: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    eval_every: int = 10
    eval_size: int = 1000
    seed: int = 0


@dataclass
class RecallBatch:
    """A batch of recall examples: keys and values (B, P), the query key and the answer (B,)."""

    keys: torch.Tensor
    values: torch.Tensor
    query: torch.Tensor
    answer: torch.Tensor
    position: torch.Tensor  # (B,) where the queried key sits: the position attention should pick


def recall_batch(rng: np.random.Generator, n: int, setup: RecallSetup) -> RecallBatch:
    """Return `n` examples: distinct keys per example, values with repeats, one of the keys queried."""
    keys = np.argsort(rng.random((n, setup.num_keys)), axis=1)[:, : setup.pairs]   # distinct keys per row
    values = rng.integers(0, setup.num_values, size=(n, setup.pairs))
    position = rng.integers(0, setup.pairs, size=n)
    rows = np.arange(n)
    return RecallBatch(*(torch.as_tensor(a, dtype=torch.long) for a in
                         (keys, values, keys[rows, position], values[rows, position], position)))


def pair_labels(keys: torch.Tensor, values: torch.Tensor) -> list[str]:
    """Return labels such as "C→9" for one example's pairs: keys as letters A, B, ..., values as numbers."""
    return [f"{chr(65 + int(k))}→{int(v)}" for k, v in zip(keys, values)]


class RecallAttention(nn.Module):
    """One dot-product attention layer: the query key attends over the (key, value) positions.

    With `learn_focus=False` the scores are fixed at zero, so the weights stay uniform (the baseline).
    """

    def __init__(self, setup: RecallSetup, learn_focus: bool = True):
        super().__init__()
        d = setup.dim
        self.learn_focus = learn_focus
        self.key_embed = nn.Embedding(setup.num_keys, d)
        self.value_embed = nn.Embedding(setup.num_values, d)
        self.W_q = nn.Linear(d, d, bias=False)
        self.W_k = nn.Linear(d, d, bias=False)
        self.W_v = nn.Linear(d, d, bias=False)
        self.out = nn.Linear(d, setup.num_values)

    def forward(self, keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor,
                temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Return logits over values (B, num_values) and attention weights (B, P).

        keys, values (B, P) and query (B,) are token ids; `temperature` divides the scores.
        """
        X = self.key_embed(keys) + self.value_embed(values)           # (B, P, d): one vector per pair
        x_q = self.key_embed(query)                                   # (B, d)
        q, K, V = self.W_q(x_q), self.W_k(X), self.W_v(X)             # (B, d), (B, P, d), (B, P, d)
        scores = (K @ q[:, :, None])[..., 0] / math.sqrt(q.shape[-1])  # (B, P)
        if not self.learn_focus:
            scores = torch.zeros_like(scores)
        weights = torch.softmax(scores / temperature, dim=-1)        # (B, P)
        context = (weights[:, None, :] @ V)[:, 0]                     # (B, d)
        return self.out(context), weights


def row_entropy(weights: torch.Tensor) -> torch.Tensor:
    """Return the entropy in nats of each distribution along the last axis, shape (...)."""
    return torch.special.entr(weights).sum(-1)


@torch.no_grad()
def evaluate(model: RecallAttention, batch: RecallBatch, temperature: float = 1.0) -> dict[str, float]:
    """Return accuracy, mean attention entropy (nats), mean weight on the queried position, and how often
    the largest weight sits on the queried position."""
    logits, weights = model(batch.keys, batch.values, batch.query, temperature)
    on_target = weights.gather(1, batch.position[:, None])[:, 0]
    return {"accuracy": float((logits.argmax(-1) == batch.answer).float().mean()),
            "entropy": float(row_entropy(weights).mean()),
            "weight_on_target": float(on_target.mean()),
            "peak_on_target": float((weights.argmax(-1) == batch.position).float().mean())}


@torch.no_grad()
def weights_for_every_key(model: RecallAttention, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Return the (P, P) attention weights of one example (keys, values (P,)) queried with each of its keys in turn."""
    P = keys.shape[0]
    return model(keys.expand(P, P), values.expand(P, P), keys)[1]


def heldout_batch(setup: RecallSetup) -> RecallBatch:
    """Return the fixed held-out batch (`eval_size` examples) that training curves are measured on."""
    return recall_batch(np.random.default_rng(setup.seed + 1000), setup.eval_size, setup)


def untrained_recall_model(setup: RecallSetup, learn_focus: bool = True) -> RecallAttention:
    """Return the model exactly as `train_recall` initialises it (same seed), in eval mode."""
    torch.manual_seed(setup.seed)
    return RecallAttention(setup, learn_focus).eval()


def train_recall(setup: RecallSetup, learn_focus: bool = True) -> tuple[RecallAttention, dict[str, list[float]]]:
    """Train a RecallAttention with Adam; return it and its history (step, loss, accuracy, entropy, ...).

    Every `eval_every` steps the history records the metrics of `evaluate` on `heldout_batch(setup)`.
    """
    rng = np.random.default_rng(setup.seed)
    heldout = heldout_batch(setup)
    model = untrained_recall_model(setup, learn_focus)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    history: dict[str, list[float]] = {"step": [], "loss": [], "accuracy": [], "entropy": [],
                                       "weight_on_target": [], "peak_on_target": []}
    for step in range(setup.steps + 1):
        if step % setup.eval_every == 0:
            model.eval()
            history["step"].append(step)
            for key, value in evaluate(model, heldout).items():
                history[key].append(value)
            model.train()
        if step == setup.steps:
            break
        batch = recall_batch(rng, setup.batch_size, setup)
        logits, _ = model(batch.keys, batch.values, batch.query)
        loss = nn.functional.cross_entropy(logits, batch.answer)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history["loss"].append(loss.item())
    return model.eval(), history
