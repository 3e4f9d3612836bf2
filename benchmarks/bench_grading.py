"""Grade the same batch with stock `nbgrader autograde` and with `attnbook autograde`, on this machine in
this run; print both times, the ratio, and whether correct and blank submissions get the same scores.

    .venv/bin/python benchmarks/bench_grading.py --n 200 --assignment ch01_bottleneck

Both graders start cold (their start-up is part of the time). nbgrader runs each notebook in a fresh
Jupyter kernel; attnbook forks each submission from a warm server, in parallel on all cores.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch import ROOT, write_batch

from attnbook.grading.checks import Assignment

BIN = Path(sys.executable).parent


def course_copy(name: str, dest: Path) -> None:
    """Lay out a throw-away course: solutions/, autograde/checks and nbgrader_config.py of one assignment."""
    shutil.copytree(ROOT / "solutions" / name, dest / "solutions" / name)
    (dest / "autograde" / "checks").mkdir(parents=True)
    shutil.copy(ROOT / "autograde" / "nbgrader_config.py", dest / "autograde")
    shutil.copy(ROOT / "autograde" / "checks" / f"{name}.py", dest / "autograde" / "checks")


def run(command: list[str], cwd: Path) -> float:
    """Run a command (the venv's bin first on PATH, as nbgrader needs) and return its wall time."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def scores(path: Path, column: str) -> dict[str, float]:
    """Return {student: score} from a CSV file."""
    with open(path) as fh:
        return {row["student_id"]: float(row[column]) for row in csv.DictReader(fh)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200, help="submissions in the batch (default 200)")
    parser.add_argument("--assignment", default="ch01_bottleneck")
    parser.add_argument("--workers", type=int, default=None, help="attnbook workers (default: all cores)")
    args = parser.parse_args()
    name = args.assignment
    with tempfile.TemporaryDirectory(prefix="attnbook-bench-") as tmp:
        course = Path(tmp) / "course"
        course_copy(name, course)
        kinds = write_batch(Assignment(name, course / "solutions", course / "autograde" / "checks"), args.n,
                            course / "submitted")
        db = f"sqlite:///{course / 'gradebook.db'}"
        nbgrader = str(BIN / "nbgrader")
        run([nbgrader, "generate_assignment", name, "--force", f"--db={db}", "--log-level=ERROR"], course / "autograde")
        t_nbgrader = run([nbgrader, "autograde", name, f"--db={db}", "--log-level=ERROR"], course / "autograde")
        run([nbgrader, "export", f"--db={db}", f"--to={course / 'nbgrader.csv'}", "--log-level=ERROR"],
            course / "autograde")
        command = [str(BIN / "attnbook"), "autograde", str(course / "submitted"), "--assignment", name, "--out",
                   str(course / "out"), "--course", str(course)]
        t_attnbook = run(command + (["--workers", str(args.workers)] if args.workers else []), course)
        ours, theirs = scores(course / "out" / "grades.csv", "score"), scores(course / "nbgrader.csv", "score")
    same = {kind: all(abs(ours[s] - theirs[s]) < 1e-3 for s, k in kinds.items() if k == kind)
            for kind in ("correct", "blank")}
    print(f"{args.n} submissions of {name} on {os.cpu_count()} cores")
    print(f"nbgrader autograde: {t_nbgrader:8.1f} s  ({t_nbgrader / args.n:.2f} s per submission)")
    print(f"attnbook autograde: {t_attnbook:8.1f} s  ({t_attnbook / args.n:.2f} s per submission)")
    print(f"ratio: {t_nbgrader / t_attnbook:.1f}x faster")
    print(f"identical scores on correct submissions: {same['correct']}, on blank ones: {same['blank']}")
    mean = {k: sum(ours[s] for s in kinds if kinds[s] == k) / max(1, list(kinds.values()).count(k)) for k in same}
    print(f"attnbook means: correct {mean['correct']:g}, blank {mean['blank']:g}")


if __name__ == "__main__":
    main()
