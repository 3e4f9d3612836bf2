"""Why attention scales its scores by 1/sqrt(d_k): measurements on random queries and keys (chapter 4, E6)."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

CHUNK = 1000  # random vectors drawn at a time

def dot_product_variance(d_ks: Sequence[int], samples: int, seed: int = 0) -> np.ndarray:
    """Return the measured variance of q·k for each d_k, q and k with i.i.d. N(0, 1) entries; shape (len(d_ks),)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for d_k in d_ks:
        dots = []
        for start in range(0, samples, CHUNK):                       # chunks keep memory small at large d_k
            n = min(CHUNK, samples - start)
            q = torch.randn(n, d_k, generator=gen, dtype=torch.float64)
            k = torch.randn(n, d_k, generator=gen, dtype=torch.float64)
            dots.append((q * k).sum(-1))
        out.append(float(torch.var(torch.cat(dots))))
    return np.array(out)


def softmax_jacobian(weights: torch.Tensor) -> torch.Tensor:
    """Return d softmax / d scores = diag(a) - a aᵀ for weights a of shape (..., n); shape (..., n, n)."""
    return torch.diag_embed(weights) - weights[..., :, None] * weights[..., None, :]


def saturation(d_k: int, n_keys: int, trials: int, scale: float, seed: int = 0) -> dict[str, np.ndarray]:
    """Return per-trial statistics of softmax(q Kᵀ / scale) for random q (d_k,) and K (n_keys, d_k).

    Keys of the result, each an array of shape (trials,): "max_weight" (largest attention weight),
    "jacobian_norm" (Frobenius norm of d weights / d scores) and "query_grad_norm" (Frobenius norm of
    d weights / d q, the gradient that reaches the query and its projection W_q).
    """
    gen = torch.Generator().manual_seed(seed)
    parts: dict[str, list] = {"max_weight": [], "jacobian_norm": [], "query_grad_norm": []}
    for start in range(0, trials, CHUNK // 10):
        n = min(CHUNK // 10, trials - start)
        q = torch.randn(n, 1, d_k, generator=gen, dtype=torch.float64)
        K = torch.randn(n, n_keys, d_k, generator=gen, dtype=torch.float64)
        weights = torch.softmax((q @ K.mT).squeeze(1) / scale, dim=-1)       # (n, n_keys)
        J = softmax_jacobian(weights)                                        # (n, n_keys, n_keys)
        query_grad = J @ K / scale                                           # (n, n_keys, d_k)
        parts["max_weight"].append(weights.max(-1).values)
        parts["jacobian_norm"].append(torch.linalg.matrix_norm(J))
        parts["query_grad_norm"].append(query_grad.flatten(1).norm(dim=1))
    return {name: torch.cat(values).numpy() for name, values in parts.items()}


def saturation_sweep(d_ks: Sequence[int], n_keys: int, trials: int, scaled: bool,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Return the quartiles (25%, 50%, 75%) of each `saturation` statistic per d_k; arrays of shape (len(d_ks), 3)."""
    rows: dict[str, list] = {}
    for i, d_k in enumerate(d_ks):
        stats = saturation(d_k, n_keys, trials, float(np.sqrt(d_k)) if scaled else 1.0, seed + i)
        for name, values in stats.items():
            rows.setdefault(name, []).append(np.quantile(values, [0.25, 0.5, 0.75]))
    return {name: np.array(values) for name, values in rows.items()}
