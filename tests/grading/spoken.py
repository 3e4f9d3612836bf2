"""What a sentence of feedback speaks of, read from its English words: an oracle that knows nothing of the
analyses, for tests that check a hint never names a cause from a family the check does not have."""

from __future__ import annotations

import re

import numpy as np

from attnbook.grading.spec import Case

WORDS = {
    "masks": r"\bmask|\bpadd",
    "batch": r"\bbatch",
    "arguments": r"argument check|must raise|should raise|raise \w+ with a message",
    "extremes": r"extreme magnitude|numerical stability",
    "edges": r"edge case",
    "several checks": r"from check to check",
    "several rows": r"from row to row",
}


def spoken(message: str) -> set[str]:
    """Return the families (and counts) an English message speaks of (the labels of checks it quotes, “...”,
    do not count)."""
    words = re.sub(r"“[^”]*”", "", message)
    return {what for what, pattern in WORDS.items() if re.search(pattern, words, re.I)}


def has_mask(case: Case) -> bool:
    """A check has a mask: it is one of the masks family, or it passes a boolean array or causal=True."""
    values = list(case.args) + list(case.kwargs.values())
    return case.family == "masks" or case.kwargs.get("causal") is True or any(
        isinstance(v, np.ndarray) and v.dtype == bool for v in values)


