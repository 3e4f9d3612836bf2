"""What a self-attention layer costs against a recurrent one (chapter 7, E9 and S18): floating-point
operations, time and memory against the sequence length n, and the speed-up from a second thread.

The self-attention layer is the one counted in chapter 6: projections to Q, K, V, scores, softmax,
weighted sum and the output projection W_o, all of width d. The recurrent layer is a GRU of width d.
"""

from __future__ import annotations

import math
import os
import statistics
import time
import tracemalloc
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .timing import torch_threads


def flops(n: int, d: int) -> dict[str, float]:
    """Return the matrix-product FLOPs (2 per multiply-add) of one forward pass on n positions of width d.

    "self-attention": four projections Q, K, V and W_o (4 · 2 n d²) plus scores and weighted sum (2 · 2 n² d),
    the count of chapter 6 with one head (the heads do not change it); the softmax (about 5 n² more) is left out.
    "recurrent": a GRU layer, three gates each with an input and a recurrent product (6 · 2 n d²).
    """
    return {"self-attention": 2.0 * (4 * n * d * d + 2 * n * n * d), "recurrent": 2.0 * 6 * n * d * d}


def attention_layer(n: int, d: int, seed: int = 0, device: str = "cpu") -> Callable[[], torch.Tensor]:
    """Return a function that runs one single-head self-attention layer (with W_o) on n random positions."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen).to(device)
    Wq, Wk, Wv, Wo = (torch.randn(d, d, generator=gen).div(math.sqrt(d)).to(device) for _ in range(4))

    def forward() -> torch.Tensor:
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        return (torch.softmax(Q @ K.T / math.sqrt(d), dim=-1) @ V) @ Wo

    return forward


def gru_encoder(n: int, d: int, seed: int = 0, device: str = "cpu") -> Callable[[], torch.Tensor]:
    """Return a function that runs a GRU encoder of width d over one sequence of n random positions."""
    torch.manual_seed(seed)
    gru = nn.GRU(d, d, batch_first=True).to(device)
    X = torch.randn(1, n, d).to(device)
    return lambda: gru(X)[0]


def best_seconds(fn: Callable[[], object], repeats: int = 7) -> float:
    """Return the shortest CPU time of the calling thread (s) over `repeats` calls of `fn`, after one warm-up.

    Other programs on a busy machine can only add time (cache misses, shared memory bandwidth), so the
    minimum is the steadiest estimate of the cost itself. Only meaningful with one torch thread.
    """
    fn()
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


def attention_forward_seconds(n: int, d: int, repeats: int = 7, seed: int = 0) -> float:
    """Return the best CPU time (s, one thread) of one self-attention layer on n positions of width d."""
    with torch_threads(1), torch.no_grad():
        return best_seconds(attention_layer(n, d, seed), repeats)


def recurrent_forward_seconds(n: int, d: int, repeats: int = 7, seed: int = 0) -> float:
    """Return the best CPU time (s, one thread) of a GRU encoder (width d) reading n positions."""
    with torch_threads(1), torch.no_grad():
        return best_seconds(gru_encoder(n, d, seed), repeats)


def attention_peak_bytes(n: int, d: int, seed: int = 0) -> int:
    """Return the peak bytes NumPy allocates (tracemalloc) during one float64 self-attention layer."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Wq, Wk, Wv, Wo = (rng.normal(size=(d, d)) / math.sqrt(d) for _ in range(4))
    tracemalloc.start()
    try:
        Q, K, V = X @ Wq, X @ Wk, X @ Wv
        S = np.einsum("ik,jk->ij", Q, K) / math.sqrt(d)             # (n, n) scores
        S -= S.max(axis=1, keepdims=True)
        np.exp(S, out=S)
        out = ((S / S.sum(axis=1, keepdims=True)) @ V) @ Wo         # (n, n) weights, then (n, d)
        del Q, K, V, S, out
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


# ---------------------------------------------------------------------------------------------------
# Parallelism: the same layer with 1 and 2 threads (or on a GPU).

def wall_times_by_threads(layers: dict[str, Callable[[], object]], threads: Sequence[int] = (1, 2),
                          rounds: int = 15, calls: int = 3) -> dict[tuple[str, int], list[float]]:
    """Return the wall time (s per call) of every layer with every thread count, `rounds` times each.

    One round times every (layer, thread count) once, each as the mean of `calls` calls after one
    untimed call at that thread count; the order within a round rotates from round to round, so slow
    spells of a busy machine fall on every setting alike. The thread setting is restored afterwards.
    """
    settings = [(name, n) for name in layers for n in threads]
    times: dict[tuple[str, int], list[float]] = {s: [] for s in settings}
    with torch.no_grad():
        for r in range(rounds):
            for name, n in settings[r % len(settings):] + settings[:r % len(settings)]:
                with torch_threads(n):
                    layers[name]()
                    start = time.perf_counter()
                    for _ in range(calls):
                        layers[name]()
                    times[name, n].append((time.perf_counter() - start) / calls)
    return times


def gpu_wall_times(layers: dict[str, Callable[[], object]], rounds: int = 15, calls: int = 3
                   ) -> dict[str, list[float]]:
    """Return the wall time (s per call) of every layer on the GPU, `rounds` times each, waiting for the
    device to finish each batch of `calls` calls. The layers must have been built with device="cuda"."""
    times: dict[str, list[float]] = {name: [] for name in layers}
    with torch.no_grad():
        for name, fn in layers.items():
            fn()
            torch.cuda.synchronize()
            for _ in range(rounds):
                start = time.perf_counter()
                for _ in range(calls):
                    fn()
                torch.cuda.synchronize()
                times[name].append((time.perf_counter() - start) / calls)
    return times


def speedups(slow: Sequence[float], fast: Sequence[float]) -> list[float]:
    """Return the speed-up of each round, slow[i] / fast[i] (the two timings of one round are neighbours)."""
    return [s / f for s, f in zip(slow, fast)]


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Return the lower quartile, the median and the upper quartile of `values`."""
    low, mid, high = statistics.quantiles(values, n=4, method="inclusive")
    return low, mid, high


def usable_cores() -> int:
    """Return the number of cores this process may run on."""
    return len(os.sched_getaffinity(0))


def busy_cores(seconds: float = 0.5) -> float:
    """Return how many cores other programs keep busy: the machine's busy CPU time over `seconds` of
    sleep (from /proc/stat, Linux), divided by the length of that window; NaN where /proc/stat is missing."""
    def busy_and_total() -> tuple[int, int]:
        with open("/proc/stat") as f:
            ticks = [int(t) for t in f.readline().split()[1:]]
        idle = ticks[3] + ticks[4]                       # idle and iowait
        return sum(ticks[:8]) - idle, sum(ticks[:8])     # user nice system idle iowait irq softirq steal
    try:
        busy0, total0 = busy_and_total()
        time.sleep(seconds)                              # this process does nothing meanwhile
        busy1, total1 = busy_and_total()
    except OSError:
        return math.nan
    cores = os.cpu_count() or 1
    return cores * (busy1 - busy0) / max(1, total1 - total0)
