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


def row_cross_entropy(S: np.ndarray, targets: np.ndarray) -> float:
    """Return the mean over rows of the cross-entropy of softmax(S[i]) against column targets[i]; S is (K, K)."""
    top = S.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(S - top).sum(axis=1))
    return float(np.mean(log_z - S[np.arange(len(S)), targets]))


def _row_softmax(S: np.ndarray) -> np.ndarray:
    P = np.exp(S - S.max(axis=1, keepdims=True))
    return P / P.sum(axis=1, keepdims=True)


def _nearest_psd(S: np.ndarray) -> np.ndarray:
    """Return the positive semidefinite matrix nearest to the symmetric part of S (negative eigenvalues set to 0)."""
    w, U = np.linalg.eigh((S + S.T) / 2)
    return (U * np.clip(w, 0.0, None)) @ U.T


def _symmetric_gradient(S: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Return the gradient of `row_cross_entropy` with respect to a symmetric S, shape (K, K)."""
    G = (_row_softmax(S) - np.eye(len(S))[targets]) / len(S)
    return (G + G.T) / 2


def best_symmetric_scores(targets: np.ndarray, steps: int = 2000) -> tuple[np.ndarray, float]:
    """Return (S, loss): the positive semidefinite score matrix S (K, K) with the smallest `row_cross_entropy`.

    The loss is convex in S and the PSD matrices are a convex set, so projected gradient descent (accelerated,
    step 1/L with L = 1/(2K) the gradient's Lipschitz constant) converges to the global optimum.
    """
    K = len(targets)
    S = previous = np.zeros((K, K))
    momentum = 1.0
    for _ in range(steps):
        next_momentum = (1 + np.sqrt(1 + 4 * momentum**2)) / 2
        ahead = S + (momentum - 1) / next_momentum * (S - previous)
        previous, S = S, _nearest_psd(ahead - 2 * K * _symmetric_gradient(ahead, targets))
        momentum = next_momentum
    return S, row_cross_entropy(S, targets)


def symmetric_lower_bound(S: np.ndarray, targets: np.ndarray, tol: float = 1e-9) -> float:
    """Return a lower bound on `row_cross_entropy` over every PSD score matrix, certified by S (K, K).

    With P = softmax of the rows of S and Y the one-hot targets: if P - Y + (P - Y)^T is PSD, the mean row
    entropy of P bounds the loss of every PSD matrix from below (log-sum-exp(s) >= p.s + H(p), and the
    trace of a product of two PSD matrices is >= 0). Returns -inf when that condition fails.
    """
    P = _row_softmax(S)
    M = P - np.eye(len(S))[targets]
    if np.linalg.eigvalsh(M + M.T).min() < -tol:
        return -np.inf
    return float(np.mean(-(P * np.log(P)).sum(axis=1)))
