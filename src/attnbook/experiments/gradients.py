"""How far the learning signal reaches: gradients of a seq2seq loss with respect to its source tokens."""

from __future__ import annotations

import torch
from torch import nn

from . import data, models
from .data import PAD


def source_gradient_norms(model: models.Seq2Seq, seqs: list[list[int]]) -> torch.Tensor:
    """Return |d loss / d embedding of source token j| for each sequence and position, shape (N, S).

    The loss is the summed teacher-forced cross-entropy of reversing each sequence, so each row only
    holds the gradient of that sequence's own loss. Padded positions get 0.
    """
    batch = data.make_batch(data.reversal_pairs(seqs))
    captured: list[torch.Tensor] = []

    def keep_source_embeddings(module, inputs, output):
        if not captured:                    # the first call of `embed` in forward() embeds the source
            output.retain_grad()
            captured.append(output)

    handle = model.embed.register_forward_hook(keep_source_embeddings)
    try:
        logits = model(batch["src"], batch["tgt_in"])
    finally:
        handle.remove()
    loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch["tgt_out"].reshape(-1),
                                       ignore_index=PAD, reduction="sum")
    model.zero_grad(set_to_none=True)
    loss.backward()
    model.zero_grad(set_to_none=True)
    norms = captured[0].grad.norm(dim=-1)
    return norms.masked_fill(batch["src"] == PAD, 0.0).detach()
