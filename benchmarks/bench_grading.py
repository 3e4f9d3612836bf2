"""Grade the same batches with stock `nbgrader autograde` and with `attnbook autograde`, on this machine in
this run; print both times and their ratio for each batch size, where a submission's time goes, and the
fixed cost of a run; check that correct and blank submissions get the same scores; draw the figure.

    .venv/bin/python benchmarks/bench_grading.py --sizes 10 40 200 --assignment ch08_attention_vs_self \
        --figure benchmarks/grading.png --json benchmarks/grading.json
    .venv/bin/python benchmarks/bench_grading.py --sizes 10 40 200 --assignment ch04_three_stages --attnbook-only

Both graders start cold (their start-up is part of the time). nbgrader runs each notebook in a fresh
Jupyter kernel; attnbook forks each submission from a warm server, in parallel on all cores, with every
limit of the README in force (namespaces, system-call filter, cgroup, deadlines).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
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
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def scores(path: Path, column: str) -> dict[str, float]:
    """Return {student: score} from a CSV file."""
    with open(path, newline="") as fh:
        return {row["student_id"]: float(row[column]) for row in csv.DictReader(fh)}


def grade_both(name: str, n: int, workers: int | None, tmp: Path, with_nbgrader: bool = True) -> dict:
    """Grade one batch of `n` with both graders (or attnbook alone); return their times, agreement and
    attnbook's breakdown."""
    course = tmp / f"course{n}"
    course_copy(name, course)
    kinds = write_batch(Assignment(name, course / "solutions", course / "autograde" / "checks"), n,
                        course / "submitted")
    t_nbgrader = nbgrader_autograde(name, course) if with_nbgrader else None
    command = [str(BIN / "attnbook"), "autograde", str(course / "submitted"), "--assignment", name, "--out",
               str(course / "out"), "--course", str(course)] + (["--workers", str(workers)] if workers else [])
    t_attnbook = run(command, course)
    timing = [json.loads(p.read_text())["timing"] for p in (course / "out" / "results").glob(f"*/{name}.json")]
    breakdown = {k: statistics.mean(t[k] for t in timing) for k in ("sandbox", "scoring")}
    row = {"n": n, "attnbook": t_attnbook, "per_submission": breakdown}
    if t_nbgrader is not None:
        ours, theirs = scores(course / "out" / "grades.csv", "score"), scores(course / "nbgrader.csv", "score")
        row.update(nbgrader=t_nbgrader, ratio=t_nbgrader / t_attnbook,
                   same={kind: all(abs(ours[s] - theirs[s]) < 1e-3 for s, k in kinds.items() if k == kind)
                         for kind in ("correct", "blank")})
    return row


def nbgrader_autograde(name: str, course: Path) -> float:
    """Generate the assignment, run `nbgrader autograde` on the batch and export its grades; return the
    autograde's wall time."""
    db = f"sqlite:///{course / 'gradebook.db'}"
    nbgrader = str(BIN / "nbgrader")
    run([nbgrader, "generate_assignment", name, "--force", f"--db={db}", "--log-level=ERROR"], course / "autograde")
    seconds = run([nbgrader, "autograde", name, f"--db={db}", "--log-level=ERROR"], course / "autograde")
    run([nbgrader, "export", f"--db={db}", f"--to={course / 'nbgrader.csv'}", "--log-level=ERROR"],
        course / "autograde")
    return seconds


def sandbox_start(jobs: int = 30) -> float:
    """Return the mean wall time of an empty job: fork, namespaces, root, filter, cgroup, exit, clean-up."""
    from attnbook.grading import sandbox

    box = sandbox.shared()
    job = {"program": [["cell", "pass"]], "calls": []}
    box.run(job, sandbox.Limits())
    start = time.perf_counter()
    for _ in range(jobs):
        box.run(job, sandbox.Limits())
    return (time.perf_counter() - start) / jobs


def figure(rows: list[dict], path: Path, name: str) -> None:
    """Draw wall time against batch size for both graders, with the ratio written at each point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4))
    ns = [r["n"] for r in rows]
    ax.plot(ns, [r["nbgrader"] for r in rows], "o-", color="#d95f02", label="nbgrader autograde")
    ax.plot(ns, [r["attnbook"] for r in rows], "s-", color="#1b9e77", label="attnbook autograde (sandboxed)")
    for r in rows:
        ax.annotate(f"{r['ratio']:.0f}x", (r["n"], r["attnbook"]), textcoords="offset points", xytext=(0, 8),
                    ha="center", color="#1b9e77")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xlabel("submissions in the batch")
    ax.set_ylabel("wall time (s)")
    ax.set_title(f"Grading {name}: same batch, same machine, same run")
    ax.legend()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 40, 200], help="batch sizes (default 10 40 200)")
    parser.add_argument("--assignment", default="ch08_attention_vs_self")
    parser.add_argument("--workers", type=int, default=None, help="attnbook workers (default: all cores)")
    parser.add_argument("--figure", type=Path, help="write the figure (PNG) here")
    parser.add_argument("--json", type=Path, help="write the numbers (JSON) here")
    parser.add_argument("--attnbook-only", action="store_true",
                        help="time attnbook alone (its fixed cost and cost per submission), without nbgrader")
    args = parser.parse_args()
    name = args.assignment
    with tempfile.TemporaryDirectory(prefix="attnbook-bench-") as tmp:
        rows = [grade_both(name, n, args.workers, Path(tmp), not args.attnbook_only) for n in args.sizes]
    empty = sandbox_start()
    print(f"{name} on {os.cpu_count()} cores, load average before the last batch: {os.getloadavg()[0]:.1f}")
    print(f"{'submissions':>11}  {'nbgrader':>9}  {'attnbook':>9}  {'ratio':>6}  same scores (correct, blank)")
    for r in rows:
        theirs = f"{r['nbgrader']:8.1f}s  " if "nbgrader" in r else f"{'-':>9}  "
        ratio = f"{r['ratio']:5.1f}x  {r['same']['correct']}, {r['same']['blank']}" if "ratio" in r else "    -"
        print(f"{r['n']:>11}  {theirs}{r['attnbook']:8.1f}s  {ratio}")
    if len(rows) >= 2:  # fixed cost: the intercept of attnbook's time against the batch size
        slope = (rows[-1]["attnbook"] - rows[0]["attnbook"]) / (rows[-1]["n"] - rows[0]["n"])
        fixed = rows[0]["attnbook"] - slope * rows[0]["n"]
        print(f"attnbook: {fixed:.2f} s fixed cost per run, then {slope * 1000:.0f} ms per submission (wall)")
    last = rows[-1]["per_submission"]
    print(f"per submission ({rows[-1]['n']} of them, in one worker's time): sandbox and child {last['sandbox']:.3f} s "
          f"(of which an empty job's start and clean-up {empty:.3f} s), parent's reference and diagnosis "
          f"{last['scoring']:.3f} s")
    if args.figure and not args.attnbook_only:
        figure(rows, args.figure, name)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "empty_job": empty, "cores": os.cpu_count()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
