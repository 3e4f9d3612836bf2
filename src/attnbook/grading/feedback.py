"""Per-student feedback as a standalone HTML page, and the class's grades.csv."""

from __future__ import annotations

from html import escape

from .csvsafe import csv_text
from .runner import SubmissionResult

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222}}
.pass{{color:#1b7837}} .fail{{color:#b2182b}} .note{{background:#fff7e0;border-left:4px solid #e6a700;padding:.5rem 1rem}}
.diag{{background:#eef4ff;border-left:4px solid #3465a4;padding:.5rem 1rem}} td,th{{padding:.2rem .6rem;text-align:left}}
</style></head><body>
<h1>{title}</h1>
<p><strong>Score: {score:g} / {max_score:g}</strong></p>
{problems}{exercises}
</body></html>
"""


def render(result: SubmissionResult) -> str:
    """Return the feedback page: scores, failed checks with reasons, diagnosed mistakes, notebook problems."""
    problems = ""
    notes = list(result.problems) + [f"cell {k!r} raised {v}" for k, v in result.cell_errors.items()]
    if result.child not in ("ok", "no answer cells were found"):
        notes.append(f"your code was stopped: {result.child}")
    if notes:
        problems = '<div class="note"><h2>About your notebook</h2><ul>' + "".join(
            f"<li>{escape(n)}</li>" for n in notes) + "</ul></div>"
    parts = []
    for ex in result.exercises:
        rows = "".join(
            f'<tr><td class="{"pass" if c.passed else "fail"}">{"✔" if c.passed else "✘"}</td>'
            f"<td>{escape(c.label)}</td><td>{escape(c.message)}</td></tr>" for c in ex.checks)
        diag = "".join(f'<p class="diag"><strong>Likely mistake:</strong> {escape(d)}</p>' for d in ex.diagnoses)
        passed = sum(c.passed for c in ex.checks)
        parts.append(f"<h2><code>{escape(ex.name)}</code>: {ex.points:.3g} / {ex.max_points:g} "
                     f"({passed} of {len(ex.checks)} checks passed)</h2>{diag}"
                     f"<table><tr><th></th><th>check</th><th>what was wrong</th></tr>{rows}</table>")
    return PAGE.format(title=escape(f"{result.assignment}: feedback for {result.student}"),
                       score=round(result.score, 3), max_score=result.max_score, problems=problems,
                       exercises="".join(parts))


def grades_csv(results: list[SubmissionResult]) -> str:
    """Return grades.csv: `student_id,assignment,score,max_score`, one row per student and assignment."""
    return csv_text([["student_id", "assignment", "score", "max_score"]] +
                    [[r.student, r.assignment, f"{r.score:g}", f"{r.max_score:g}"]
                     for r in sorted(results, key=lambda r: (r.student, r.assignment))])
