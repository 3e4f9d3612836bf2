"""A toy cross-modal task (chapter 8): colour words query the patches of synthetic images of shapes.

Each image is a 4 x 4 grid of 8 x 8-pixel cells; a few cells hold a coloured shape. A question names a
colour ("red"); the answer is the shape that has that colour. Two small models answer it: one with
cross-attention (query from the word, keys and values from the patches) and one with self-attention over
the word and the patches concatenated into one sequence. A baseline averages the patches with equal weights,
so it knows the question but cannot choose where to look. `trained_question_model` trains any of them for one
seed, cached on disk.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch
from torch import nn

from . import training

COLOURS = {"red": (0.90, 0.15, 0.10), "green": (0.10, 0.70, 0.20), "blue": (0.15, 0.35, 0.95),
           "yellow": (0.95, 0.85, 0.10)}
SHAPES = ("square", "disc", "cross")
GRID, CELL, SIZE = 4, 8, 6          # cells per side, pixels per cell, pixels per shape


def shape_mask(shape: str) -> np.ndarray:
    """Return a (SIZE, SIZE) boolean stencil of `shape`."""
    y, x = np.mgrid[:SIZE, :SIZE] - (SIZE - 1) / 2
    if shape == "square":
        return np.ones((SIZE, SIZE), bool)
    if shape == "disc":
        return x**2 + y**2 <= (SIZE / 2) ** 2
    if shape == "cross":
        return (np.abs(x) < 1) | (np.abs(y) < 1)
    raise ValueError(f"unknown shape {shape!r}; choose from {SHAPES}")


def make_scenes(rng: np.random.Generator, n: int, objects: int = 3) -> dict[str, np.ndarray]:
    """Return n scenes: images (n, 32, 32, 3) and per object its colour, shape and cell index (n, objects)."""
    side = GRID * CELL
    images = rng.uniform(0.0, 0.1, size=(n, side, side, 3))
    colours = np.stack([rng.permutation(len(COLOURS))[:objects] for _ in range(n)])
    shapes = rng.integers(0, len(SHAPES), size=(n, objects))
    cells = np.stack([rng.permutation(GRID * GRID)[:objects] for _ in range(n)])
    palette = np.array(list(COLOURS.values()))
    stencils = [shape_mask(s) for s in SHAPES]
    for i in range(n):
        for c, s, cell in zip(colours[i], shapes[i], cells[i]):
            dy, dx = rng.integers(0, CELL - SIZE + 1, size=2)
            top, left = (cell // GRID) * CELL + dy, (cell % GRID) * CELL + dx
            region = images[i, top:top + SIZE, left:left + SIZE]
            region[stencils[s]] = palette[c] + rng.normal(0, 0.03, size=3)
    return {"images": np.clip(images, 0, 1), "colours": colours, "shapes": shapes, "cells": cells}


def patchify(images: np.ndarray) -> np.ndarray:
    """Return the cells of images (n, 32, 32, 3) as flattened patches (n, 16, 8 * 8 * 3), row by row."""
    n = images.shape[0]
    p = images.reshape(n, GRID, CELL, GRID, CELL, 3).transpose(0, 1, 3, 2, 4, 5)
    return p.reshape(n, GRID * GRID, CELL * CELL * 3)


def questions(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Return n scenes with one question each: the colour word asked, the answer shape and its cell."""
    scenes = make_scenes(rng, n)
    pick = rng.integers(0, scenes["colours"].shape[1], size=n)
    rows = np.arange(n)
    return {**scenes, "patches": patchify(scenes["images"]).astype(np.float32),
            "word": scenes["colours"][rows, pick], "answer": scenes["shapes"][rows, pick],
            "cell": scenes["cells"][rows, pick]}


class WordToPatches(nn.Module):
    """Cross-attention: the query comes from a colour word, keys and values from the image patches."""

    def __init__(self, d: int = 32):
        super().__init__()
        self.word = nn.Embedding(len(COLOURS), d)
        self.patch = nn.Linear(CELL * CELL * 3, d)
        self.attn = nn.MultiheadAttention(d, 1, batch_first=True)
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, len(SHAPES)))

    def forward(self, word: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return shape logits (B, 3) and the word's weights over the patches (B, 16)."""
        q = self.word(word)[:, None]                      # (B, 1, d): one query, from the text
        kv = self.patch(patches)                          # (B, 16, d): keys and values, from the image
        out, weights = self.attn(q, kv, kv)
        return self.head(out[:, 0]), weights[:, 0]


class ConcatenatedSelfAttention(nn.Module):
    """Self-attention over one sequence: the word token followed by the 16 patch tokens."""

    def __init__(self, d: int = 32):
        super().__init__()
        self.word = nn.Embedding(len(COLOURS), d)
        self.patch = nn.Linear(CELL * CELL * 3, d)
        self.kind = nn.Embedding(2, d)                    # modality embedding: 0 = text, 1 = image
        nn.init.normal_(self.kind.weight, std=0.05)       # small, so it does not drown the faint patch features
        self.attn = nn.MultiheadAttention(d, 1, batch_first=True)
        self.head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, len(SHAPES)))

    def forward(self, word: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return shape logits (B, 3) and the full self-attention weights (B, 17, 17)."""
        x = torch.cat([self.word(word)[:, None] + self.kind.weight[0],
                       self.patch(patches) + self.kind.weight[1]], dim=1)   # (B, 17, d): one sequence
        out, weights = self.attn(x, x, x)
        return self.head(out[:, 0]), weights


class UniformAttention(nn.Module):
    """Baseline: the word cannot choose. The patches are averaged with equal weights, and the classifier sees
    the word's embedding beside that average (so it knows the question, but not where to look)."""

    def __init__(self, d: int = 32):
        super().__init__()
        self.word = nn.Embedding(len(COLOURS), d)
        self.patch = nn.Linear(CELL * CELL * 3, d)
        self.head = nn.Sequential(nn.Linear(2 * d, d), nn.ReLU(), nn.Linear(d, len(SHAPES)))

    def forward(self, word: torch.Tensor, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return shape logits (B, 3) and the (uniform) weights over the patches (B, 16)."""
        weights = torch.full(patches.shape[:2], 1 / patches.shape[1])
        pooled = (weights[..., None] * self.patch(patches)).sum(1)
        return self.head(torch.cat([self.word(word), pooled], dim=-1)), weights


def train_questions(model: nn.Module, steps: int = 150, batch_size: int = 128, lr: float = 3e-3,
                    seed: int = 0) -> list[float]:
    """Train `model` to answer colour questions with fresh scenes each step; return the losses."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        q = questions(rng, batch_size)
        logits, _ = model(torch.from_numpy(q["word"]), torch.from_numpy(q["patches"]))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(q["answer"]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


MODELS = {"cross-attention": WordToPatches, "concatenated self-attention": ConcatenatedSelfAttention,
          "uniform attention": UniformAttention}
CHANCE = 1 / len(SHAPES)            # the three shapes are equally likely answers


def trained_question_model(name: str, seed: int, steps: int = 150, batch_size: int = 128
                           ) -> tuple[nn.Module, list[float]]:
    """Return the model `name` (a key of MODELS), built and trained with `seed`, and its losses (cached on disk)."""
    torch.manual_seed(seed)
    model = MODELS[name]()
    code = inspect.getsource(inspect.getmodule(WordToPatches)) + torch.__version__
    return training.cached_training(f"crossmodal-{name.replace(' ', '-')}", name + repr((seed, steps, batch_size)) + code,
                                    model, lambda: train_questions(model, steps, batch_size, seed=seed))


@torch.no_grad()
def evaluate(model: nn.Module, q: dict[str, np.ndarray]) -> tuple[float, np.ndarray]:
    """Return the accuracy on questions `q` and the word's weights over the 16 patches (n, 16)."""
    logits, weights = model.eval()(torch.from_numpy(q["word"]), torch.from_numpy(q["patches"]))
    if weights.dim() == 3:                                # concatenated sequence: word row, patch columns
        weights = weights[:, 0, 1:]
    return float((logits.argmax(-1).numpy() == q["answer"]).mean()), weights.numpy()
