"""plots.plain_log_ticks: log axes labelled with plain numbers (no 6×10⁰)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from attnbook.experiments import plots  # noqa: E402


def _drawn_labels(axis) -> set[str]:
    axis.figure.canvas.draw()
    return {t.get_text() for t in axis.get_majorticklabels() + axis.get_minorticklabels()} - {""}


def test_less_than_a_decade_gets_plain_labels():
    fig, ax = plt.subplots()
    ax.plot([1, 2, 4], [0.9, 2.0, 6.5])
    ax.set_yscale("log")
    assert any("times" in label for label in _drawn_labels(ax.yaxis))   # matplotlib's own: 6\times10^{0}
    plots.plain_log_ticks(ax)
    labels = _drawn_labels(ax.yaxis)
    assert {"1", "2", "6"} <= labels and not any("times" in label or "^" in label for label in labels)
    plt.close(fig)


def test_decades_read_as_numbers_and_linear_axes_are_left_alone():
    fig, (ax, linear) = plt.subplots(1, 2)
    ax.loglog([32, 4096], [0.02, 150])
    linear.plot([0, 1], [0, 1])
    before = linear.yaxis.get_major_formatter()
    plots.plain_log_ticks(ax)
    plots.plain_log_ticks(linear)
    assert {"0.1", "1", "10", "100"} <= _drawn_labels(ax.yaxis)
    assert {"100", "1000"} <= _drawn_labels(ax.xaxis)
    assert linear.yaxis.get_major_formatter() is before
    plt.close(fig)
