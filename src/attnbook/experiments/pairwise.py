"""Pairwise scores from one shared projection or from separate query and key projections (chapter 3).

Each of K symbols has a fixed embedding (a row of E). A model scores every pair of symbols, and row i of
the softmax of the scores says where symbol i looks. With one shared matrix W the scores are
(E W)(E W)^T, symmetric; with separate matrices they are (E W_q)(E W_k)^T, which need not be.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def successor_targets(num_symbols: int) -> np.ndarray:
    """Return the relation "symbol i looks for symbol i + 1 (mod K)" as target indices, shape (K,)."""
    return (np.arange(num_symbols) + 1) % num_symbols


class PairwiseScores(nn.Module):
    """Scores (K, K) of every symbol against every other: (E W_q)(E W_k)^T, or (E W)(E W)^T when shared."""

    def __init__(self, embed_dim: int, d_k: int, shared: bool):
        super().__init__()
        self.to_q = nn.Linear(embed_dim, d_k, bias=False)
        self.to_k = self.to_q if shared else nn.Linear(embed_dim, d_k, bias=False)

    def forward(self, E: torch.Tensor) -> torch.Tensor:
        """Return the score matrix (K, K) for embeddings E (K, embed_dim)."""
        return self.to_q(E) @ self.to_k(E).T


def train_pairwise_scores(E: np.ndarray, targets: np.ndarray, d_k: int, shared: bool, steps: int = 400,
                          lr: float = 0.05, seed: int = 0) -> tuple[PairwiseScores, list[float]]:
    """Train PairwiseScores so that row i's softmax puts its weight on column targets[i]; return (model, losses).

    E has shape (K, embed_dim) and stays fixed; targets has shape (K,). Loss: cross-entropy of each row.
    """
    torch.manual_seed(seed)
    model = PairwiseScores(E.shape[1], d_k, shared).double()
    emb, tgt = torch.as_tensor(E, dtype=torch.float64), torch.as_tensor(targets)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = nn.functional.cross_entropy(model(emb), tgt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, losses
