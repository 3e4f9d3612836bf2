"""Execute the book's stale chapters before the Sphinx build, several at once (one per core), into the
execution cache that Jupyter Book reads, so the build itself only renders.

A chapter is stale when Jupyter Book's cache (`_build/.jupyter_cache`) holds no execution of its current
code cells. Chapters are read with MyST-NB's own reader, so the cache matches exactly what the build looks
up. A chapter that fails here is not cached: the build then runs it again and reports the error as usual.
A chapter whose front matter says `attnbook: {execute_alone: true}` (it measures how time scales with
threads) runs after the others, with no other chapter beside it.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import nbformat

TIMEOUT_SECONDS = 600


def _read(path: Path) -> nbformat.NotebookNode | None:
    """Return the chapter as MyST-NB reads it, or None when the page is not a notebook."""
    from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook

    text = path.read_text(encoding="utf-8")
    if not is_myst_markdown_notebook(text):
        return None
    return read_myst_markdown_notebook(text, add_source_map=True, path=str(path))


def _execute(path: str) -> tuple[str, float, str | None]:
    """Run one chapter in a fresh kernel; return (executed notebook JSON, seconds, error or None)."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = _read(Path(path))
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=TIMEOUT_SECONDS, allow_errors=False)
    return nbformat.writes(nb), result.time, result.exc_string


def stale_chapters(cache, pages: list[Path]) -> list[Path]:
    """Return the notebook pages whose current code has no execution in `cache`."""
    stale = []
    for path in pages:
        nb = _read(path)
        if nb is None:
            continue
        try:
            cache.match_cache_notebook(nb)
        except KeyError:
            stale.append(path)
    return stale


def execute_stale(pages: list[Path], cache_path: Path, workers: int | None = None) -> int:
    """Execute the stale pages in parallel into the cache at `cache_path`; return how many failed."""
    from jupyter_cache import get_cache

    cache = get_cache(str(cache_path))
    stale = stale_chapters(cache, [p.resolve() for p in pages])
    if not stale:
        return 0
    alone = [p for p in stale if _read(p).metadata.get("attnbook", {}).get("execute_alone")]
    together = [p for p in stale if p not in alone]
    workers = max(1, min(len(together), workers or os.cpu_count() or 1))
    print(f"executing {len(stale)} chapter(s), {workers} at a time: {', '.join(p.stem for p in together)}"
          + (f"; then alone: {', '.join(p.stem for p in alone)}" if alone else ""), file=sys.stderr, flush=True)
    failed, start = 0, time.monotonic()
    for group, size in ((together, workers), *(([p], 1) for p in alone)):
        if not group:
            continue
        with ProcessPoolExecutor(size, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_execute, str(p)): p for p in _longest_first(cache, group)}
            for future in as_completed(futures):
                failed += not _store(cache, futures[future], *future.result(), start)
    return failed


def _store(cache, path: Path, text: str, seconds: float, error: str | None, start: float) -> bool:
    """Put one executed chapter into the cache; return False (and say so) when it failed."""
    from jupyter_cache.base import CacheBundleIn

    if error:
        print(f"  {path.stem}: FAILED after {seconds:.0f} s (the build reports the error)", file=sys.stderr)
        return False
    record = cache.add_nb_to_project(str(path), read_data={"type": "plugin", "name": "myst_nb_md"})
    cache.cache_notebook_bundle(CacheBundleIn(nbformat.reads(text, as_version=4), record.uri,
                                              data={"execution_seconds": seconds}), check_validity=False, overwrite=True)
    print(f"  {path.stem}: executed in {seconds:.1f} s ({time.monotonic() - start:.0f} s elapsed)",
          file=sys.stderr, flush=True)
    return True


def _longest_first(cache, paths: list[Path]) -> list[Path]:
    """Order pages by their last recorded execution time, longest first (unknown ones first of all)."""
    last = {}
    for record in cache.list_cache_records():
        if record.uri in map(str, paths):
            last[record.uri] = max(last.get(record.uri, 0.0), record.data.get("execution_seconds", 0.0))
    return sorted(paths, key=lambda p: -last.get(str(p), float("inf")))
