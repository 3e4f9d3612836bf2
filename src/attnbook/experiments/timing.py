"""Timing for the book's small measurements: medians of repeated calls, on one thread."""

from __future__ import annotations

import contextlib
import statistics
import time
from typing import Callable, Iterator

import torch


def median_seconds(fn: Callable[[], object], repeats: int = 9, warmup: int = 1,
                   clock: Callable[[], float] = time.perf_counter) -> float:
    """Return the median time of `fn()` in seconds over `repeats` calls, after `warmup` untimed calls.

    `clock` is wall time by default; pass `time.thread_time` to count only the CPU time of the calling
    thread, which a busy machine does not inflate (with `torch_threads(1)` torch works on that thread).
    """
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return statistics.median(times)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the body with `torch.set_num_threads(n)`, restoring the previous setting afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
