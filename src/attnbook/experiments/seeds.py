"""Run a trained experiment over several seeds on both cores, and summarise the spread of its results."""

from __future__ import annotations

import math
import multiprocessing
import os
import statistics
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence, TypeVar

from ..i18n import t

T = TypeVar("T")

SEEDS = (0, 1, 2)  # every trained comparison in the book runs over these seeds


def _quiet_worker() -> None:
    import torch

    torch.set_num_threads(1)


def prefetch(fn: Callable[..., T], calls: Iterable[tuple], workers: int | None = None) -> list[T]:
    """Return `[fn(*args) for args in calls]`, after running the calls once in parallel worker processes.

    `fn` must be a module-level function whose expensive part is cached on disk (for instance by
    `training.cached_training`): the workers fill the cache on all cores, then every call runs again here
    and loads its result from the cache. Workers are spawned (not forked), which is safe with torch.
    """
    calls = [tuple(args) for args in calls]
    workers = min(len(calls), workers or os.cpu_count() or 1)
    if workers > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_quiet_worker) as pool:
            for future in [pool.submit(_discard, fn, args) for args in calls]:
                future.result()
    return [fn(*args) for args in calls]


def _discard(fn: Callable[..., object], args: tuple) -> None:
    fn(*args)


@dataclass(frozen=True)
class Spread:
    """The mean of a result over seeds, its sample standard deviation and standard error."""

    mean: float
    std: float
    sem: float
    n: int
    low: float
    high: float

    def percent(self) -> str:
        """Return e.g. '83 % ± 4 % (s.e., 3 seeds)' for a fraction in [0, 1]."""
        return t("{mean} % ± {sem} % (s.e., {n} seeds)", mean=f"{100 * self.mean:.0f}", sem=f"{100 * self.sem:.0f}",
                 n=self.n)

    def __str__(self) -> str:
        return t("{mean} ± {sem} (s.e., {n} seeds)", mean=f"{self.mean:.3g}", sem=f"{self.sem:.2g}", n=self.n)


def spread(values: Sequence[float]) -> Spread:
    """Return the mean, standard deviation (n - 1), standard error and range of `values` (one per seed)."""
    values = [float(v) for v in values]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return Spread(statistics.fmean(values), std, std / math.sqrt(len(values)), len(values), min(values), max(values))
