"""One look for every figure in the book: colour-blind-safe colours, fixed per model, and shared helpers."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import LogFormatter

# Okabe–Ito palette; each model keeps its colour in every chapter.
MODEL_COLORS = {
    "no attention": "#D55E00",      # vermillion
    "additive attention": "#0072B2",  # blue
    "transformer": "#009E73",        # bluish green
    "self-attention": "#009E73",
    "recurrent": "#D55E00",
}
EXTRA_COLORS = ["#E69F00", "#56B4E9", "#CC79A7", "#F0E442", "#000000"]

plt.rcParams.update({
    "figure.figsize": (6.4, 3.8), "figure.dpi": 110, "savefig.bbox": "tight",
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "font.size": 10, "legend.frameon": False,
})


def color(model: str) -> str:
    """Return the colour the book uses for `model` everywhere."""
    return MODEL_COLORS[model]


def heatmap(ax: plt.Axes, weights: np.ndarray, query_labels: Sequence[str], key_labels: Sequence[str],
            title: str = "", xlabel: str = "key position", ylabel: str = "query position",
            vmax: float | None = None) -> None:
    """Draw attention weights with queries down the vertical axis and keys along the horizontal.

    Pass the same `vmax` (e.g. 1.0, or the largest weight of all panels) to heatmaps shown side by side,
    so that one colour means one weight in every panel.
    """
    top = vmax if vmax is not None else max(1e-9, float(np.max(weights)))
    im = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=top, aspect="auto")
    ax.set_xticks(range(len(key_labels)), key_labels, fontsize=8)
    ax.set_yticks(range(len(query_labels)), query_labels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if title:
        ax.set_title(title)
    plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="attention weight")


def band(ax: plt.Axes, x: Sequence[float], runs: np.ndarray, label: str, color: str, **line) -> None:
    """Draw the mean over seeds of `runs` (seeds, len(x)) as a line, with a band of one standard error
    around it and the lowest and highest seed as thin dotted lines."""
    runs = np.asarray(runs, dtype=float)
    mean = runs.mean(axis=0)
    sem = runs.std(axis=0, ddof=1) / np.sqrt(len(runs)) if len(runs) > 1 else np.zeros_like(mean)
    ax.plot(x, mean, color=color, label=f"{label} (mean of {len(runs)} seeds)", **line)
    ax.fill_between(x, mean - sem, mean + sem, color=color, alpha=0.25, linewidth=0)
    for edge in (runs.min(axis=0), runs.max(axis=0)):
        ax.plot(x, edge, color=color, linewidth=0.6, linestyle=":")


class _PlainLogFormatter(LogFormatter):
    """Label the same ticks as matplotlib's log formatter, as plain numbers: 0.5, 6, 100 (not 6×10⁰)."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_ticks(ax: plt.Axes) -> None:
    """Write the tick labels of every logarithmic axis of `ax` as plain numbers."""
    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            base = axis.get_transform().base
            axis.set_major_formatter(_PlainLogFormatter(base=base))
            axis.set_minor_formatter(_PlainLogFormatter(base=base, labelOnlyBase=False))
