"""Toy sequence tasks used by the book: token sequences to reverse, padded into batches."""

from __future__ import annotations

import numpy as np
import torch

PAD, BOS, EOS = 0, 1, 2
FIRST_SYMBOL = 3


def vocab_size(num_symbols: int) -> int:
    """Return the vocabulary size: the three special tokens plus `num_symbols` symbols."""
    return FIRST_SYMBOL + num_symbols


def random_sequences(rng: np.random.Generator, n: int, min_len: int, max_len: int,
                     num_symbols: int) -> list[list[int]]:
    """Return `n` random symbol sequences with lengths uniform in [min_len, max_len]."""
    lengths = rng.integers(min_len, max_len + 1, size=n)
    return [rng.integers(FIRST_SYMBOL, FIRST_SYMBOL + num_symbols, size=L).tolist() for L in lengths]


def reversal_pairs(sequences: list[list[int]]) -> list[tuple[list[int], list[int]]]:
    """Return (source, target) pairs where the target is the source reversed."""
    return [(s, s[::-1]) for s in sequences]


def pad_batch(seqs: list[list[int]], prefix: list[int] = (), suffix: list[int] = ()) -> torch.Tensor:
    """Return a (B, T) long tensor of `prefix + seq + suffix`, right-padded with PAD."""
    rows = [list(prefix) + list(s) + list(suffix) for s in seqs]
    lengths = torch.tensor([len(r) for r in rows])
    out = torch.full((len(rows), int(lengths.max())), PAD, dtype=torch.long)
    out[torch.arange(out.shape[1]) < lengths[:, None]] = torch.tensor([t for r in rows for t in r], dtype=torch.long)
    return out


def make_batch(pairs: list[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """Return source (B, S), decoder input `BOS + target` and decoder output `target + EOS`."""
    sources = [p[0] for p in pairs]
    targets = [p[1] for p in pairs]
    return {
        "src": pad_batch(sources),
        "tgt_in": pad_batch(targets, prefix=[BOS]),
        "tgt_out": pad_batch(targets, suffix=[EOS]),
    }
