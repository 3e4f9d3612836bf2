"""Runs over seeds: prefetch fills an on-disk cache in worker processes, spread reads out the standard error."""

from __future__ import annotations

import math
import os

import pytest

from attnbook.experiments import seeds


def _touch(folder: str, seed: int) -> int:
    """Write a file named after the process that ran the call; return the seed squared."""
    open(os.path.join(folder, f"{seed}-{os.getpid()}"), "w").close()
    return seed * seed


def test_prefetch_runs_each_call_in_a_worker_then_here(tmp_path):
    assert seeds.prefetch(_touch, [(str(tmp_path), s) for s in (1, 2, 3)], workers=2) == [1, 4, 9]
    runs = sorted(p.name for p in tmp_path.iterdir())
    here = {name for name in runs if name.endswith(f"-{os.getpid()}")}
    assert len(here) == 3 and len(runs) == 6  # once in a worker, once in this process


def test_spread_gives_mean_sample_std_and_standard_error():
    s = seeds.spread([0.8, 0.9, 1.0])
    assert s.mean == pytest.approx(0.9) and s.std == pytest.approx(0.1)
    assert s.sem == pytest.approx(0.1 / math.sqrt(3)) and (s.low, s.high, s.n) == (0.8, 1.0, 3)
    assert s.percent() == "90 % ± 6 % (s.e., 3 seeds)"
