"""Measure the book build: a clean build (empty execution cache) and an incremental one after editing a chapter.

Usage: .venv/bin/python benchmarks/bench_build.py [--chapter book/ch01_bottleneck.md]
Prints the wall time of each build and the per-notebook execution times Jupyter Book reported.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed_build() -> tuple[float, dict[str, float]]:
    """Run `attnbook build`; return its wall time and the execution time of each chapter it executed (as
    `attnbook.site.execute` reports them, once for both editions)."""
    start = time.perf_counter()
    proc = subprocess.run([str(Path(sys.executable).parent / "attnbook"), "build", "--course", str(ROOT)],
                          cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    executed = {m[0]: float(m[1]) for m in re.findall(r"^\s*(\S+): executed in ([\d.]+) s", proc.stdout + proc.stderr, re.M)}
    return elapsed, executed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chapter", default="book/ch01_bottleneck.md", help="chapter to edit for the incremental build")
    args = parser.parse_args()
    shutil.rmtree(ROOT / "_build", ignore_errors=True)
    clean, executed = timed_build()
    print(f"clean build (empty cache): {clean:.1f} s")
    for name, seconds in sorted(executed.items()):
        print(f"  executed {name}: {seconds:.1f} s")
    chapter = ROOT / args.chapter
    original = chapter.read_text(encoding="utf-8")
    try:
        chapter.write_text(original + f"\n```{{code-cell}} ipython3\n# benchmark edit {time.time()}\n```\n", encoding="utf-8")
        incremental, executed = timed_build()
    finally:
        chapter.write_text(original, encoding="utf-8")
    print(f"incremental build after editing {args.chapter}: {incremental:.1f} s (re-executed: {', '.join(executed)})")


if __name__ == "__main__":
    main()
