"""The class report from one or more autograde output folders: the page an instructor opens after grading.

`index.html` shows one score distribution per assignment, a table per exercise (mean points, pass rate,
the most common named causes with their counts and full wording) and a table of students that sorts and
filters in the browser (plain JavaScript in the page, no network), each score linking to the student's
feedback page. Everything is built from the stored results (scores, check labels, cause sentences), never
from the hidden checks themselves, so no page can show check or mistake source. The report is in English
(causes in the English wording every result keeps for it); each feedback page in its result's language.
"""

from __future__ import annotations

import base64
import io
import statistics
from collections import Counter, defaultdict
from html import escape
from pathlib import Path
from urllib.parse import quote

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .csvsafe import csv_text  # noqa: E402
from .feedback import feedback_path, grades_csv, points, render  # noqa: E402
from .runner import SubmissionResult, load_result, write_atomic  # noqa: E402

TOP_CAUSES = 3

STYLE = """
body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#222;line-height:1.4}
h2{margin-top:2.4rem;border-bottom:1px solid #ccc;padding-bottom:.2rem} figure{margin:1rem 0}
figcaption{font-size:.9rem;color:#444} img{max-width:100%;height:auto}
table{border-collapse:collapse;margin:.6rem 0} th,td{padding:.3rem .7rem;text-align:left;vertical-align:top}
thead th{border-bottom:2px solid #999;background:#f4f4f4} tbody tr+tr td{border-top:1px solid #e4e4e4}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums} td ul{margin:0;padding-left:1.1rem}
th.sortable{cursor:pointer;user-select:none} th.sortable::after{content:" \\2195";color:#999}
th[aria-sort=ascending]::after{content:" \\2191";color:#222} th[aria-sort=descending]::after{content:" \\2193";color:#222}
#filter{font-size:1rem;padding:.3rem .5rem;width:18rem} .muted{color:#666;font-size:.9rem}
"""

SCRIPT = """
(function () {
  const table = document.getElementById('students');
  const body = table.tBodies[0];
  const value = (row, i) => row.cells[i].dataset.sort ?? row.cells[i].textContent.trim();
  table.querySelectorAll('th.sortable').forEach((th, i) => {
    th.addEventListener('click', () => {
      const ascending = th.getAttribute('aria-sort') !== 'ascending';
      table.querySelectorAll('th.sortable').forEach(h => h.removeAttribute('aria-sort'));
      th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
      const numeric = th.dataset.type === 'number';
      const rows = Array.from(body.rows);
      rows.sort((a, b) => {
        const x = value(a, i), y = value(b, i);
        const d = numeric ? (parseFloat(x) || -1) - (parseFloat(y) || -1) : x.localeCompare(y);
        return ascending ? d : -d;
      });
      rows.forEach(r => body.appendChild(r));
    });
  });
  const filter = document.getElementById('filter');
  const count = document.getElementById('shown');
  filter.addEventListener('input', () => {
    const needle = filter.value.trim().toLowerCase();
    let shown = 0;
    Array.from(body.rows).forEach(r => {
      const keep = r.cells[0].textContent.toLowerCase().includes(needle);
      r.hidden = !keep;
      shown += keep;
    });
    count.textContent = shown;
  });
})();
"""


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
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def score_histogram(name: str, scores: list[float], max_score: float) -> str:
    """Return a base64 PNG: how many students got each score band of one assignment."""
    bins = int(max_score) if max_score <= 20 and float(max_score).is_integer() else 10
    fig, ax = plt.subplots(figsize=(7.5, 2.8))
    ax.hist(scores, bins=bins, range=(0, max_score), color="#3465a4", edgecolor="white")
    ax.set_xlim(0, max_score)
    ax.set_xlabel(f"score (out of {points(max_score)})")
    ax.set_ylabel("students")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{name}: {len(scores)} submissions, median {points(statistics.median(scores))}", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _exercise_rows(results: list[SubmissionResult]) -> list[dict]:
    """Return one summary per (assignment, exercise): mean points, pass rate, most common named causes."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for r in results:
        for ex in r.exercises:
            groups[(r.assignment, ex.name)].append(ex)
    rows = []
    for (assignment, name), exs in groups.items():
        causes = Counter(c.english or c.message for ex in exs for c in ex.causes)
        rows.append({"assignment": assignment, "exercise": name, "max": exs[0].max_points, "n": len(exs),
                     "mean": statistics.fmean(e.points for e in exs),
                     "pass": sum(e.points >= e.max_points - 1e-9 for e in exs) / len(exs),
                     "causes": causes.most_common(TOP_CAUSES), "all_causes": causes})
    return rows


def _exercise_table(rows: list[dict]) -> str:
    body = ""
    for row in rows:
        causes = "".join(f"<li>{escape(msg)} <span class=\"muted\">({n} student{'s' if n != 1 else ''})</span></li>"
                         for msg, n in row["causes"]) or '<span class="muted">none named</span>'
        body += (f"<tr><td>{escape(row['assignment'])}</td><td><code>{escape(row['exercise'])}</code></td>"
                 f'<td class="num">{points(row["mean"])} / {points(row["max"])}</td>'
                 f'<td class="num">{round(100 * row["pass"])} %</td><td><ul>{causes}</ul></td></tr>')
    return ("<table><thead><tr><th>assignment</th><th>exercise</th><th class=\"num\">mean points</th>"
            "<th class=\"num\">full marks</th><th>most common named causes</th></tr></thead>"
            f"<tbody>{body}</tbody></table>")


def _student_table(results: list[SubmissionResult]) -> str:
    assignments = sorted({r.assignment for r in results})
    by_student: dict[str, dict[str, SubmissionResult]] = defaultdict(dict)
    for r in results:
        by_student[r.student][r.assignment] = r
    head = "".join(f'<th class="sortable num" data-type="number">{escape(a)}</th>' for a in assignments)
    rows = ""
    for student in sorted(by_student):
        cells = ""
        for a in assignments:
            r = by_student[student].get(a)
            if r is None:
                cells += '<td class="num" data-sort="">—</td>'
                continue
            link = quote(feedback_path(Path("."), r.student, a).as_posix())
            cells += (f'<td class="num" data-sort="{r.score:.6g}"><a href="{escape(link)}">{points(r.score)} / '
                      f"{points(r.max_score)}</a></td>")
        total = sum(r.score for r in by_student[student].values())
        rows += (f"<tr><td>{escape(student)}</td>{cells}"
                 f'<td class="num" data-sort="{total:.6g}">{points(total)}</td></tr>')
    return (f'<p><label>Filter students: <input id="filter" type="search" placeholder="part of a student id">'
            f'</label> <span class="muted"><span id="shown">{len(by_student)}</span> of {len(by_student)} shown; '
            "click a column heading to sort</span></p>"
            '<table id="students"><thead><tr><th class="sortable" data-type="text">student</th>'
            f'{head}<th class="sortable num" data-type="number">total</th></tr></thead><tbody>{rows}</tbody></table>')


def write_report(runs: list[Path], out: Path) -> None:
    """Write index.html, grades.csv, exercises.csv, mistakes.csv and the feedback pages under `out`."""
    results = load_runs(runs)
    if not results:
        raise SystemExit(f"attnbook: no results under {', '.join(map(str, runs))} (run `attnbook autograde` first)")
    out = Path(out)
    detail = [["student_id", "assignment", "exercise", "points", "max_points", "checks_passed", "checks", "causes"]]
    for r in results:
        write_atomic(feedback_path(out, r.student, r.assignment), render(r))
        for ex in r.exercises:
            detail.append([r.student, r.assignment, ex.name, f"{ex.points:g}", f"{ex.max_points:g}",
                           sum(c.passed for c in ex.checks), len(ex.checks), ";".join(c.key for c in ex.causes)])
    summaries = _exercise_rows(results)
    mistakes = [["assignment", "exercise", "cause", "students"]]
    for row in summaries:
        mistakes += [[row["assignment"], row["exercise"], msg, n] for msg, n in row["all_causes"].most_common()]
    write_atomic(out / "grades.csv", grades_csv(results))
    write_atomic(out / "exercises.csv", csv_text(detail))
    write_atomic(out / "mistakes.csv", csv_text(mistakes))
    by_assignment = defaultdict(list)
    for r in results:
        by_assignment[r.assignment].append(r)
    figures = ""
    for name, group in sorted(by_assignment.items()):
        scores = [r.score for r in group]
        alt = (f"Histogram of the scores of {len(group)} submissions of {name}, out of "
               f"{points(group[0].max_score)}; median {points(statistics.median(scores))}.")
        figures += (f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,'
                    f'{score_histogram(name, scores, group[0].max_score)}"><figcaption>{escape(name)}: mean '
                    f"{points(statistics.fmean(scores))}, median {points(statistics.median(scores))}, "
                    f"{sum(s >= group[0].max_score - 1e-9 for s in scores)} with full marks, "
                    f"{sum(s == 0 for s in scores)} with none.</figcaption></figure>")
    students = len({r.student for r in results})
    write_atomic(out / "index.html", f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Class report</title><style>{STYLE}</style></head><body>
<h1>Class report</h1>
<p>{students} students, {len(results)} graded submissions of {len(by_assignment)} assignment(s). Data:
<a href="grades.csv">grades.csv</a>, <a href="exercises.csv">exercises.csv</a> (one row per student and exercise),
<a href="mistakes.csv">mistakes.csv</a> (every named cause and how many students it concerns).</p>
<h2>Score distribution per assignment</h2>{figures}
<h2>Exercises</h2>
<p class="muted">Mean points, the share of students with full marks, and the causes the grader named most often
(in the words the students read).</p>{_exercise_table(summaries)}
<h2>Students</h2>{_student_table(results)}
<script>{SCRIPT}</script>
</body></html>
""")
