"""Recurrent encoder–decoders used by the book: one fixed context vector, or additive attention."""

from __future__ import annotations

import torch
from torch import nn

from .data import BOS, EOS, PAD


class Seq2Seq(nn.Module):
    """GRU encoder–decoder; with `attention=False` every decoder step sees the same context `c`."""

    def __init__(self, vocab: int, emb_dim: int = 32, hidden: int = 64, attention: bool = False):
        super().__init__()
        self.attention = attention
        self.embed = nn.Embedding(vocab, emb_dim, padding_idx=PAD)
        self.encoder = nn.GRU(emb_dim, hidden, batch_first=True)
        self.decoder = nn.GRUCell(emb_dim + hidden, hidden)
        if attention:  # additive (Bahdanau) alignment: e_j = v . tanh(s W_s + h_j W_h)
            self.align_s = nn.Linear(hidden, hidden, bias=False)
            self.align_h = nn.Linear(hidden, hidden, bias=False)
            self.align_v = nn.Linear(hidden, 1, bias=False)
        self.out = nn.Linear(2 * hidden, vocab)

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return all encoder states H (B, S, d_h), the final state c (B, d_h) and the real-token mask."""
        real = src != PAD
        lengths = real.sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(src), lengths.cpu(), batch_first=True,
                                                   enforce_sorted=False)
        H, c = self.encoder(packed)
        H, _ = nn.utils.rnn.pad_packed_sequence(H, batch_first=True, total_length=src.shape[1])
        return H, c[0], real

    def step(self, prev: torch.Tensor, s: torch.Tensor, H: torch.Tensor, c: torch.Tensor, real: torch.Tensor,
             H_proj: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Run one decoder step; return (logits (B, V), new state (B, d_h), attention weights (B, S) or None).

        `H_proj` is `align_h(H)` (B, S, d_h), computed here unless the caller passes it once for all steps.
        """
        s, readout, alpha = self._advance(self.embed(prev), s, H, c, real, H_proj)
        return self.out(readout), s, alpha

    def _advance(self, emb: torch.Tensor, s: torch.Tensor, H: torch.Tensor, c: torch.Tensor, real: torch.Tensor,
                 H_proj: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Update the decoder state from the previous token's embedding; return (s, [s, context], alpha)."""
        if self.attention:
            H_proj = self.align_h(H) if H_proj is None else H_proj
            e = self.align_v(torch.tanh(self.align_s(s)[:, None] + H_proj))[..., 0]
            alpha = torch.softmax(e.masked_fill(~real, float("-inf")), dim=-1)   # (B, S)
            context = torch.bmm(alpha[:, None], H)[:, 0]                        # (B, d_h)
        else:
            context, alpha = c, None
        s = self.decoder(torch.cat([emb, context], dim=-1), s)
        return s, torch.cat([s, context], dim=-1), alpha

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Return teacher-forced logits (B, T, V) for decoder inputs `tgt_in` (B, T)."""
        H, c, real = self.encode(src)
        H_proj = self.align_h(H) if self.attention else None
        emb = self.embed(tgt_in)
        s, readouts = c, []
        for t in range(tgt_in.shape[1]):
            s, readout, _ = self._advance(emb[:, t], s, H, c, real, H_proj)
            readouts.append(readout)
        return self.out(torch.stack(readouts, dim=1))

    @torch.no_grad()
    def generate(self, src: torch.Tensor, max_len: int) -> tuple[list[list[int]], torch.Tensor | None]:
        """Greedy-decode each source; return token lists (EOS excluded) and weights (B, max_len, S) or None."""
        H, c, real = self.encode(src)
        H_proj = self.align_h(H) if self.attention else None
        s = c
        prev = torch.full((src.shape[0],), BOS, dtype=torch.long)
        tokens, weights = [], []
        for _ in range(max_len):
            logits, s, alpha = self.step(prev, s, H, c, real, H_proj)
            prev = logits.argmax(-1)
            tokens.append(prev)
            if alpha is not None:
                weights.append(alpha)
        tokens = torch.stack(tokens, dim=1).tolist()
        out = [row[: row.index(EOS)] if EOS in row else row for row in tokens]
        return out, (torch.stack(weights, dim=1) if weights else None)
