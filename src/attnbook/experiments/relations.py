"""A toy task with two relations, and a one-layer multi-head attention model that learns it (chapter 6).

Each sequence holds `length` random symbols; exactly one position is *flagged*. At every position `i`
the model must output two things: the symbol `offset` positions to the left (a relation by position)
and the flagged symbol (a relation by content: wherever the flag is). The model reads the sequence
through one `torch.nn.MultiheadAttention` layer and nothing else, so both relations must pass
through attention.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from . import training

IGNORE = -100  # target value for positions with no symbol `offset` to the left


@dataclass(frozen=True)
class RelationsSetup:
    """Everything that defines one run of the two-relation experiment: task, model and budget."""

    num_symbols: int = 8
    length: int = 10
    offset: int = 2
    d_model: int = 32
    num_heads: int = 2
    hidden: int = 64
    steps: int = 1000
    batch_size: int = 128
    lr: float = 3e-3
    seed: int = 0


def make_batch(rng: np.random.Generator, n: int, setup: RelationsSetup) -> dict[str, torch.Tensor]:
    """Return tokens (n, T), flags (n, T) in {0, 1} with one 1 per row, and both targets (n, T)."""
    T, k = setup.length, setup.offset
    tokens = rng.integers(0, setup.num_symbols, size=(n, T))
    where = rng.integers(0, T, size=n)
    flags = np.zeros((n, T), dtype=np.int64)
    flags[np.arange(n), where] = 1
    left = np.full((n, T), IGNORE)
    left[:, k:] = tokens[:, :-k]
    flagged = np.repeat(tokens[np.arange(n), where][:, None], T, axis=1)
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.long)  # noqa: E731
    return {"tokens": as_tensor(tokens), "flags": as_tensor(flags),
            "left": as_tensor(left), "flagged": as_tensor(flagged)}


class TwoRelationModel(nn.Module):
    """Embeddings, one multi-head attention layer (self-attention, no residual), an MLP readout."""

    def __init__(self, setup: RelationsSetup):
        super().__init__()
        D, V = setup.d_model, setup.num_symbols
        self.symbol = nn.Embedding(V, D)
        self.flag = nn.Embedding(2, D)
        self.position = nn.Embedding(setup.length, D)
        self.attn = nn.MultiheadAttention(D, setup.num_heads, batch_first=True)
        self.readout = nn.Sequential(nn.Linear(D, setup.hidden), nn.ReLU(), nn.Linear(setup.hidden, 2 * V))

    def forward(self, tokens: torch.Tensor, flags: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return logits for the left symbol (B, T, V), for the flagged symbol (B, T, V), and weights (B, H, T, T)."""
        positions = torch.arange(tokens.shape[1])
        x = self.symbol(tokens) + self.flag(flags) + self.position(positions)
        a, weights = self.attn(x, x, x, need_weights=True, average_attn_weights=False)
        left, flagged = self.readout(a).chunk(2, dim=-1)
        return left, flagged, weights


def train_relations(setup: RelationsSetup) -> tuple[TwoRelationModel, list[float]]:
    """Return a TwoRelationModel trained with Adam (eval mode) and its loss after each step, cached on disk."""
    torch.manual_seed(setup.seed)
    model = TwoRelationModel(setup)
    code = "".join(inspect.getsource(f) for f in (make_batch, TwoRelationModel, _fit, train_relations))
    return training.cached_training("relations", repr(asdict(setup)) + code, model, lambda: _fit(model, setup))


def _fit(model: TwoRelationModel, setup: RelationsSetup) -> list[float]:
    """Train `model` in place on fresh batches; return the loss after each step."""
    rng = np.random.default_rng(setup.seed)
    opt = torch.optim.Adam(model.parameters(), lr=setup.lr)
    losses = []
    for _ in range(setup.steps):
        batch = make_batch(rng, setup.batch_size, setup)
        left, flagged, _ = model(batch["tokens"], batch["flags"])
        loss = (nn.functional.cross_entropy(left.flatten(0, 1), batch["left"].flatten(), ignore_index=IGNORE)
                + nn.functional.cross_entropy(flagged.flatten(0, 1), batch["flagged"].flatten()))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def without_head(model: TwoRelationModel, head: int) -> TwoRelationModel:
    """Return a copy of `model` whose head `head` contributes nothing: its block of rows of W_o is zeroed.

    In the course's convention out = concat(heads) @ W_o + b; torch stores W_o transposed as
    out_proj.weight (out, in), so those rows of W_o are columns of out_proj.weight.
    """
    ablated = copy.deepcopy(model)
    width = ablated.attn.embed_dim // ablated.attn.num_heads
    with torch.no_grad():
        # head i only ever meets rows i*width:(i+1)*width of W_o, i.e. those columns of out_proj.weight
        ablated.attn.out_proj.weight[:, head * width:(head + 1) * width] = 0.0
    return ablated.eval()


@torch.no_grad()
def accuracy(model: TwoRelationModel, setup: RelationsSetup, n: int = 2000, seed: int = 99) -> dict[str, float]:
    """Return per-position accuracy on fresh sequences: 'left', 'flagged' and 'both' (the pair right)."""
    batch = make_batch(np.random.default_rng(seed), n, setup)
    left, flagged, _ = model(batch["tokens"], batch["flags"])
    k = setup.offset
    ok_left = (left.argmax(-1) == batch["left"])[:, k:]
    ok_flag = (flagged.argmax(-1) == batch["flagged"])[:, k:]
    return {"left": ok_left.float().mean().item(), "flagged": ok_flag.float().mean().item(),
            "both": (ok_left & ok_flag).float().mean().item()}
