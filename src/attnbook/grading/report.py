"""The class report from one or more autograde output folders: plots, CSV, and per-student feedback pages.

Everything here is built from the stored results (scores, check labels, diagnosis sentences), never from
the hidden checks themselves, so no page can show check or mistake source.
"""

from __future__ import annotations

import base64
import io
from collections import Counter, defaultdict
from html import escape
from pathlib import Path
from urllib.parse import quote

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .csvsafe import csv_text  # noqa: E402
from .feedback import grades_csv, render  # noqa: E402
from .runner import SubmissionResult, load_result, student_folder, write_atomic  # noqa: E402


def load_runs(runs: list[Path]) -> list[SubmissionResult]:
    """Return every stored result of the given output folders (a later folder wins for the same submission)."""
    found: dict[tuple[str, str], SubmissionResult] = {}
    for run in runs:
        for path in sorted(Path(run).glob("results/*/*.json")):
            res = load_result(path)
            if res:
                found[(res.student, res.assignment)] = res
    return sorted(found.values(), key=lambda r: (r.assignment, r.student))


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _barh(labels: list[str], values: list[float], xlabel: str, title: str) -> str:
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(labels) + 1.2))
    ax.barh(range(len(labels)), values, color="#3465a4")
    ax.set_yticks(range(len(labels)), [label if len(label) < 70 else label[:67] + "..." for label in labels])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    return _png(fig)


def _score_plot(results: list[SubmissionResult]) -> str:
    by_assignment = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(r)
    fig, axes = plt.subplots(1, len(by_assignment), figsize=(4 * len(by_assignment), 3), squeeze=False)
    for ax, (name, group) in zip(axes[0], sorted(by_assignment.items())):
        ax.hist([r.score for r in group], bins=10, range=(0, group[0].max_score), color="#3465a4")
        ax.set_title(name)
        ax.set_xlabel("score")
        ax.set_ylabel("students")
    return _png(fig)


def write_report(runs: list[Path], out: Path) -> None:
    """Write index.html (plots and tables), grades.csv, exercises.csv, mistakes.csv and feedback/ under `out`."""
    results = load_runs(runs)
    if not results:
        raise SystemExit(f"attnbook: no results under {', '.join(map(str, runs))} (run `attnbook autograde` first)")
    out = Path(out)
    rows = [["student_id", "assignment", "exercise", "points", "max_points", "checks_passed", "checks", "mistakes"]]
    full, seen, mistakes = Counter(), Counter(), Counter()
    for r in results:
        write_atomic(out / "feedback" / student_folder(r.student) / f"{r.assignment}.html", render(r))
        for ex in r.exercises:
            key = f"{r.assignment}: {ex.name}"
            seen[key] += 1
            full[key] += ex.points >= ex.max_points
            mistakes.update((r.assignment, ex.name, d) for d in ex.diagnoses)
            rows.append([r.student, r.assignment, ex.name, f"{ex.points:g}", f"{ex.max_points:g}",
                         sum(c.passed for c in ex.checks), len(ex.checks), ";".join(ex.mistake_keys)])
    pass_rate = {k: full[k] / seen[k] for k in sorted(seen)}
    common = mistakes.most_common(15)
    write_atomic(out / "grades.csv", grades_csv(results))
    write_atomic(out / "exercises.csv", csv_text(rows))
    write_atomic(out / "mistakes.csv", csv_text([["assignment", "exercise", "mistake", "students"]] +
                                            [[*m, n] for m, n in common]))
    plots = [("Score distribution per assignment", _score_plot(results)),
             ("Pass rate per exercise (full marks)",
              _barh(list(pass_rate), list(pass_rate.values()), "fraction of students", "pass rate"))]
    if common:
        plots.append(("Most common diagnosed mistakes",
                      _barh([f"{e}: {d}" for (_, e, d), _ in common], [n for _, n in common], "students",
                            "diagnosed mistakes")))
    figures = "".join(f'<h2>{escape(t)}</h2><img alt="{escape(t)}" src="data:image/png;base64,{p}">' for t, p in plots)
    table = "".join(f"<tr><td>{escape(r.student)}</td><td>{escape(r.assignment)}</td>"
                    f'<td>{r.score:g} / {r.max_score:g}</td><td><a href="feedback/'
                    f'{escape(quote(student_folder(r.student)))}/{escape(quote(r.assignment))}.html">feedback</a>'
                    f'</td></tr>' for r in results)
    write_atomic(out / "index.html", f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Class report</title><style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
img{{max-width:100%}} td,th{{padding:.2rem .6rem;text-align:left}}</style></head><body>
<h1>Class report</h1><p>{len(results)} graded submissions. Data: <a href="grades.csv">grades.csv</a>,
<a href="exercises.csv">exercises.csv</a>, <a href="mistakes.csv">mistakes.csv</a>.</p>{figures}
<h2>Students</h2><table><tr><th>student</th><th>assignment</th><th>score</th><th></th></tr>{table}</table>
</body></html>
""")
