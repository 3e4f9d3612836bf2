"""Kernel regression as attention pooling (chapter 3): a 1-D regression task and a learned bandwidth."""

from __future__ import annotations

import numpy as np
import torch


def target_function(x: np.ndarray) -> np.ndarray:
    """Return the noiseless function the regression task samples, f(x) = sin(2x) + 0.4x, same shape as x."""
    return np.sin(2 * x) + 0.4 * x


def sample_regression(seed: int, n: int = 50, noise: float = 0.5, low: float = 0.0,
                      high: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Return (x (n,), y (n,)): sorted inputs uniform in [low, high] and noisy targets f(x) + N(0, noise^2)."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, size=n))
    return x, target_function(x) + rng.normal(scale=noise, size=n)


def fit_bandwidth(x: np.ndarray, y: np.ndarray, leave_one_out: bool = True, steps: int = 300,
                  lr: float = 0.05, initial: float = 1.0) -> tuple[float, list[float]]:
    """Learn the Gaussian bandwidth by gradient descent on the training error; return (bandwidth, bandwidth per step).

    x and y have shape (n,). Every training point is predicted from the others (`leave_one_out=True`) or from
    all points including itself. The bandwidth is trained through its logarithm so that it stays positive.
    """
    xs, ys = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
    sq_dist = (xs[:, None] - xs[None, :]) ** 2                         # (n, n): query i against key j
    own_key = torch.eye(len(xs), dtype=torch.bool)
    log_sigma = torch.tensor(float(np.log(initial)), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([log_sigma], lr=lr)
    history = []
    for _ in range(steps):
        scores = -sq_dist / (2 * torch.exp(2 * log_sigma))
        if leave_one_out:
            scores = scores.masked_fill(own_key, float("-inf"))       # a point may not look at itself
        loss = torch.mean((torch.softmax(scores, dim=-1) @ ys - ys) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(float(torch.exp(log_sigma).detach()))
    return history[-1], history
