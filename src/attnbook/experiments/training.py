"""Training and evaluation loops for the book's toy seq2seq experiments, with an on-disk cache."""

from __future__ import annotations

import hashlib
import inspect
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from . import data, models
from .data import PAD


@dataclass(frozen=True)
class ReversalSetup:
    """Everything that defines one reversal experiment: data, model size and training budget."""

    num_symbols: int = 10
    min_len: int = 3
    max_len: int = 16
    emb_dim: int = 32
    hidden: int = 64
    steps: int = 1200
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch and return a NumPy generator with the same seed."""
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


def cached_training(name: str, key: str, model: nn.Module, train: Callable[[], list[float]]
                    ) -> tuple[nn.Module, list[float]]:
    """Return (`model` in eval mode, losses): its weights from the on-disk cache entry for `name` and `key`
    (the code and settings that define the training), else after `train()` trains it in place, saved atomically."""
    root = Path(os.environ.get("ATTNBOOK_CACHE", Path.home() / ".cache" / "attnbook"))
    path = root / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"
    if path.exists():
        saved = torch.load(path)
        model.load_state_dict(saved["state"])
        return model.eval(), saved["losses"]
    losses = train()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save({"state": model.state_dict(), "losses": losses}, tmp)
    tmp.replace(path)
    return model.eval(), losses


def fit(model: nn.Module, batches: Iterable[dict[str, torch.Tensor]], lr: float,
        lr_factor: Callable[[int], float] | None = None) -> list[float]:
    """Train a seq2seq model (`model(src, tgt_in) -> logits (B, T, V)`) in place, one step per batch of `batches`
    (dicts from `data.make_batch`).

    Adam at `lr` (times `lr_factor(step)` when given), gradients clipped to norm 1; returns the loss per step.
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor) if lr_factor else None
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    losses = []
    model.train()
    for batch in batches:
        logits = model(batch["src"], batch["tgt_in"])
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), batch["tgt_out"].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if schedule:
            schedule.step()
        losses.append(loss.item())
    return losses


def fit_reversal(model: nn.Module, setup: ReversalSetup, rng: np.random.Generator, lr: float,
                 lr_factor: Callable[[int], float] | None = None) -> list[float]:
    """Train any reversal model in place with `fit`, for `setup.steps` batches of random sequences drawn from `rng`."""
    def batches() -> Iterator[dict[str, torch.Tensor]]:
        for _ in range(setup.steps):
            seqs = data.random_sequences(rng, setup.batch_size, setup.min_len, setup.max_len, setup.num_symbols)
            yield data.make_batch(data.reversal_pairs(seqs))

    return fit(model, batches(), lr, lr_factor)


def trained_reversal_model(setup: ReversalSetup, attention: bool) -> tuple[models.Seq2Seq, list[float]]:
    """Return a Seq2Seq trained on sequence reversal and its loss per step, cached on disk."""
    rng = seed_everything(setup.seed)
    model = models.Seq2Seq(data.vocab_size(setup.num_symbols), setup.emb_dim, setup.hidden, attention)
    code = "".join(inspect.getsource(m) for m in (models, data)) + inspect.getsource(fit) \
        + inspect.getsource(fit_reversal) + inspect.getsource(trained_reversal_model)
    return cached_training("seq2seq-attn" if attention else "seq2seq", repr(asdict(setup)) + code, model,
                           lambda: fit_reversal(model, setup, rng, setup.lr))


def exact_match_by_length(model: models.Seq2Seq, setup: ReversalSetup, per_length: int = 200,
                          seed: int = 1234) -> dict[int, float]:
    """Return the fraction of fresh test sequences reversed exactly, for each length of the setup."""
    rng = np.random.default_rng(seed)
    result = {}
    for length in range(setup.min_len, setup.max_len + 1):
        seqs = data.random_sequences(rng, per_length, length, length, setup.num_symbols)
        predicted, _ = model.generate(data.pad_batch(seqs), max_len=length + 1)
        result[length] = float(np.mean([p == s[::-1] for p, s in zip(predicted, seqs)]))
    return result


def final_states(model: models.Seq2Seq, seqs: list[list[int]]) -> torch.Tensor:
    """Return the encoder's final state c (N, d_h) for each sequence."""
    with torch.no_grad():
        return model.encode(data.pad_batch(seqs))[1]


def probe_accuracy_by_position(features: torch.Tensor, seqs: list[list[int]], num_symbols: int,
                               train_fraction: float = 0.75, steps: int = 300, seed: int = 0) -> list[float]:
    """Fit one linear softmax probe per position from `features` (N, d) to the token there.

    Returns held-out accuracy for each position; all sequences must have the same length.
    """
    torch.manual_seed(seed)
    tokens = torch.tensor(seqs) - data.FIRST_SYMBOL
    n_train = int(train_fraction * len(seqs))
    mean, std = features[:n_train].mean(0), features[:n_train].std(0) + 1e-6
    z = (features - mean) / std
    accuracies = []
    for position in range(tokens.shape[1]):
        probe = nn.Linear(z.shape[1], num_symbols)
        opt = torch.optim.LBFGS(probe.parameters(), max_iter=steps, line_search_fn="strong_wolfe")
        y = tokens[:, position]

        def closure():
            opt.zero_grad()
            loss = nn.functional.cross_entropy(probe(z[:n_train]), y[:n_train]) + 1e-3 * probe.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            accuracies.append(float((probe(z[n_train:]).argmax(-1) == y[n_train:]).float().mean()))
    return accuracies
